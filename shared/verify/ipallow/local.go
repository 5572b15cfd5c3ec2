package ipallow

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// FromThisMachine reports why r is not a request from this machine to a
// loopback name (nil when it is): the local tools' rule (the inspector,
// the local Trigger worker route), which answer nothing else. The Host
// check keeps a page on another site from reaching them through DNS
// rebinding.
func FromThisMachine(r *http.Request) error {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || !isLoopback(host) {
		return fmt.Errorf("client %q is not this machine", r.RemoteAddr)
	}
	if !isLoopback(hostname(r.Host)) {
		return fmt.Errorf("Host %q is not a loopback name (localhost, 127.0.0.1, [::1])", r.Host)
	}
	return nil
}

// SameOrigin reports whether an Origin header names host over http(s).
func SameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host == host && (u.Scheme == "http" || u.Scheme == "https")
}

// hostname is the host of a Host header, without port or brackets.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
