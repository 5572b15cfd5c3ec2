package pipeline

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// readBody reads the whole body, never more than the limit. A body over
// it is an *http.MaxBytesError whose text names the limit and its setting
// (the 413's log line said "request body too large", and not what the
// limit was nor how to raise it).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.opts.MaxBodyBytes {
		return nil, h.tooLarge(&http.MaxBytesError{Limit: h.opts.MaxBodyBytes})
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes), r.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, h.tooLarge(err)
		}
		return nil, fmt.Errorf("%w: %w", ErrReadBody, err)
	}
	return body, nil
}

// tooLarge wraps the error of a body over the limit with the limit.
func (h *Handler) tooLarge(err error) error {
	return fmt.Errorf("body over MAX_BODY_BYTES=%d: %w", h.opts.MaxBodyBytes, err)
}

// maxUpfrontBytes is the most readAll sets aside before bytes arrive,
// about the size of most webhook bodies, so that a request that announces
// 25 MB and sends nothing costs no more than this.
const maxUpfrontBytes = 64 << 10

// growth is how many times the bytes that have arrived readAll's buffer
// may grow to: the bound on what a slow sender holds before its request
// is authenticated, and what makes the buffers of a large body add up to
// about its size (1 + 1/8 + 1/64 + … ≈ 1.14).
const growth = 8

// readAll reads a body of the given Content-Length (-1: unknown). The
// length is the client's word, and trusting it up front let a header-only
// request take 25 MB; growing by doubling instead left 1.6 times a large
// body in garbage (52 MiB for 20 MiB), which at 80 concurrent requests is
// an instance's memory. So the buffer grows toward the length in steps of
// growth× as the bytes arrive, from a first buffer (at most
// maxUpfrontBytes) chosen so that the last step ends on the length: a body
// up to maxUpfrontBytes is read into one buffer of its size, a larger one
// into buffers that add up to about 1.14 times its size, and a sender
// holds at most growth times what it has sent. net/http ends such a body
// after exactly that many bytes, so a short read is an error of the
// connection.
func readAll(body io.Reader, contentLength int64) ([]byte, error) {
	if contentLength < 0 {
		return io.ReadAll(body)
	}
	n := int(contentLength)
	buf := make([]byte, 0, firstBuffer(n))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = append(make([]byte, 0, min(growth*cap(buf), n)), buf...)
		}
		m, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		switch {
		case err == io.EOF && len(buf) < n:
			return nil, io.ErrUnexpectedEOF
		case err != nil && err != io.EOF:
			return nil, err
		}
	}
	return buf, nil
}

// firstBuffer is the size of readAll's first buffer for a body of n
// bytes: n divided by growth as often as it takes to be at most
// maxUpfrontBytes (rounded up, so that growing from it reaches n).
func firstBuffer(n int) int {
	for n > maxUpfrontBytes {
		n = (n + growth - 1) / growth
	}
	return n
}
