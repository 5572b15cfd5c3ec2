// Package ipallow restricts the client addresses that may call a source:
// an optional allowlist of CIDR ranges (verify.allow_cidrs), for providers
// that publish the ranges they send from (GitHub's hooks, Stripe's webhook
// IPs) and as the only protection of a provider that signs nothing.
//
//	allow, err := ipallow.Parse([]string{"192.30.252.0/22", "2606:50c0::/32"})
//	...
//	if !allow.Allowed(r) { // a nil *List allows everything
//		// 403
//	}
//
// # Which address is the client's
//
// On Cloud Run, r.RemoteAddr is an internal address of Google's front end,
// not the client's. The front end appends the address of the client that
// connected to it as the LAST entry of X-Forwarded-For; every entry before
// that one is whatever the client sent, and a client that wants to pass the
// allowlist simply sends "X-Forwarded-For: 192.30.252.1". So the client
// address is the last entry, never the first. Without X-Forwarded-For
// (local runs, tests) it is RemoteAddr's host.
//
// Entries are read leniently as to form (spaces, a port, IPv6 in brackets)
// and strictly as to content: an entry that is not an address makes the
// request not allowed when a list is set. IPv4-mapped IPv6 addresses
// (::ffff:192.0.2.1) are unmapped before matching, so an IPv4 range matches
// them.
//
// # Behind your own load balancer
//
// Behind your own external Application Load Balancer (serverless NEG in
// front of Cloud Run), the load balancer appends too: it adds the client's
// address and then its own forwarding rule's address
// (https://cloud.google.com/load-balancing/docs/https, "X-Forwarded-For
// header"),
// so the client is the second entry from the end. Say so with
// TrustedProxies(2); every proxy of your own in front adds one more. Leave
// the default (1) for a plain Cloud Run URL: counting more entries than
// were appended by infrastructure you trust hands the choice of address
// back to the client.
package ipallow

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// HeaderForwardedFor is the header the front end appends the client's
// address to.
const HeaderForwardedFor = "X-Forwarded-For"

// List is a parsed allowlist. Its zero value allows nothing; a nil *List
// allows everything (no allowlist configured).
type List struct {
	prefixes []netip.Prefix
	proxies  int
}

// Option adjusts how Parse builds a List.
type Option func(*List)

// TrustedProxies sets how many X-Forwarded-For entries, counted from the
// end, were appended by proxies you trust; the client address is the n-th
// entry from the end. The default, 1, is right for Cloud Run's own front
// end; 2 behind your own external Application Load Balancer. n < 1 is an
// error of Parse.
func TrustedProxies(n int) Option {
	return func(l *List) { l.proxies = n }
}

// Parse reads an allowlist: each entry a CIDR range ("192.30.252.0/22",
// "2606:50c0::/32") or a bare address, taken as /32 or /128. It returns
// (nil, nil) for no entries, a List that allows everything. Errors name
// every bad entry.
func Parse(cidrs []string, opts ...Option) (*List, error) {
	if len(cidrs) == 0 {
		return nil, nil
	}
	l := &List{proxies: 1}
	for _, o := range opts {
		o(l)
	}
	var errs []error
	if l.proxies < 1 {
		errs = append(errs, fmt.Errorf("ipallow: trusted proxies %d: must be at least 1", l.proxies))
	}
	for i, entry := range cidrs {
		p, err := parseEntry(entry)
		if err != nil {
			errs = append(errs, fmt.Errorf("ipallow: entry %d %q: %w", i, entry, err))
			continue
		}
		l.prefixes = append(l.prefixes, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

// parseEntry reads one CIDR range or bare address.
func parseEntry(entry string) (netip.Prefix, error) {
	s := strings.TrimSpace(entry)
	if s == "" {
		return netip.Prefix{}, errors.New("empty")
	}
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or CIDR range")
		}
		if addr.Zone() != "" {
			return netip.Prefix{}, errors.New("an address with a zone cannot be matched")
		}
		addr = addr.Unmap()
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP address or CIDR range")
	}
	// Client addresses are unmapped before matching, so a range written
	// in IPv4-mapped form is unmapped too.
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	// "10.1.2.3/8" means 10.0.0.0/8: the host bits are dropped, not an
	// error, as in most firewalls' syntax.
	return p.Masked(), nil
}

// Allowed reports whether r's client address is in the list. A nil *List
// allows everything; an address that cannot be determined is not allowed.
func (l *List) Allowed(r *http.Request) bool {
	if l == nil {
		return true
	}
	addr, ok := clientIP(r, l.proxies)
	if !ok {
		return false
	}
	for _, p := range l.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ClientIP returns the address of the client that connected to Cloud Run's
// front end: the last X-Forwarded-For entry, or RemoteAddr's host when
// there is no X-Forwarded-For. ok is false when that entry is not an
// address. The address is unmapped (IPv4-mapped IPv6 becomes IPv4).
func ClientIP(r *http.Request) (netip.Addr, bool) {
	return clientIP(r, 1)
}

// clientIP returns the proxies-th X-Forwarded-For entry from the end.
func clientIP(r *http.Request, proxies int) (netip.Addr, bool) {
	if r == nil {
		return netip.Addr{}, false
	}
	// Several header lines form one list, in order (RFC 9110, 5.3).
	lines := r.Header.Values(HeaderForwardedFor)
	if len(lines) == 0 {
		return parseHost(r.RemoteAddr)
	}
	entries := strings.Split(strings.Join(lines, ","), ",")
	if proxies < 1 || proxies > len(entries) {
		return netip.Addr{}, false
	}
	return parseHost(entries[len(entries)-proxies])
}

// parseHost reads an address with or without a port: "192.0.2.1",
// "192.0.2.1:443", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443".
func parseHost(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if addr, err := netip.ParseAddr(s); err == nil {
		return usable(addr)
	}
	host := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	} else if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	} else {
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return usable(addr)
}

// usable unmaps addr and refuses a zoned address, which no range matches.
func usable(addr netip.Addr) (netip.Addr, bool) {
	if addr.Zone() != "" {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}
