package ipallow_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/cloudhooks/webhooks/shared/verify/ipallow"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		cidrs   []string
		opts    []ipallow.Option
		wantNil bool
		wantErr []string // substrings the error must contain
	}{
		{name: "no entries is no allowlist", cidrs: nil, wantNil: true},
		{name: "an empty list is no allowlist", cidrs: []string{}, wantNil: true},
		{name: "CIDR ranges of both families parse", cidrs: []string{"192.30.252.0/22", "2606:50c0::/32"}},
		{name: "bare addresses parse as single hosts", cidrs: []string{"203.0.113.7", "2001:db8::1"}},
		{name: "spaces around an entry are ignored", cidrs: []string{" 10.0.0.0/8 "}},
		{name: "host bits in a range are dropped", cidrs: []string{"10.1.2.3/8"}},
		{name: "IPv4-mapped ranges parse", cidrs: []string{"::ffff:10.0.0.0/104"}},
		{name: "every bad entry is named", cidrs: []string{"10.0.0.0/8", "not-an-ip", "10.0.0.0/33", ""},
			wantErr: []string{`entry 1 "not-an-ip"`, `entry 2 "10.0.0.0/33"`, `entry 3 ""`}},
		{name: "a zoned address is refused", cidrs: []string{"fe80::1%eth0"}, wantErr: []string{"zone"}},
		{name: "a host name is refused", cidrs: []string{"github.com"}, wantErr: []string{`"github.com"`}},
		{name: "zero trusted proxies is refused", cidrs: []string{"10.0.0.0/8"}, opts: []ipallow.Option{ipallow.TrustedProxies(0)},
			wantErr: []string{"trusted proxies 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ipallow.Parse(tt.cidrs, tt.opts...)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("Parse succeeded, want an error")
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if (l == nil) != tt.wantNil {
				t.Fatalf("Parse = %v, want nil: %v", l, tt.wantNil)
			}
		})
	}
}

// req builds a request as Cloud Run delivers it: RemoteAddr is the front
// end's internal address unless given, and each xff string is one
// X-Forwarded-For header line.
func req(remote string, xff ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://hooks.example/src", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

const frontEnd = "169.254.1.1:43210"

func TestAllowed(t *testing.T) {
	github, err := ipallow.Parse([]string{"192.30.252.0/22", "2606:50c0::/32", "203.0.113.7"})
	if err != nil {
		t.Fatal(err)
	}
	behindLB, err := ipallow.Parse([]string{"192.30.252.0/22"}, ipallow.TrustedProxies(2))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		list *ipallow.List
		r    *http.Request
		want bool
	}{
		{"no allowlist allows everything", nil, req(frontEnd, "6.6.6.6"), true},
		{"no allowlist allows even garbage", nil, req(frontEnd, "garbage"), true},
		{"the last entry in range is allowed", github, req(frontEnd, "192.30.252.10"), true},
		{"the last entry out of range is refused", github, req(frontEnd, "6.6.6.6"), false},
		{"a spoofed first entry is ignored", github, req(frontEnd, "192.30.252.10, 6.6.6.6"), false},
		{"several spoofed entries are ignored", github, req(frontEnd, "192.30.252.1,192.30.252.2, 6.6.6.6"), false},
		{"a forged prefix does not hide an allowed client", github, req(frontEnd, "6.6.6.6, 192.30.252.10"), true},
		{"the last header line holds the last entry", github, req(frontEnd, "192.30.252.10", "6.6.6.6"), false},
		{"entries split across lines are read in order", github, req(frontEnd, "6.6.6.6", "192.30.252.10"), true},
		{"spaces around the entry are ignored", github, req(frontEnd, "6.6.6.6 ,   192.30.252.10  "), true},
		{"an IPv4 entry with a port is read", github, req(frontEnd, "192.30.252.10:5555"), true},
		{"an IPv6 entry is read", github, req(frontEnd, "2606:50c0:8000::153"), true},
		{"an IPv6 entry in brackets is read", github, req(frontEnd, "[2606:50c0:8000::153]"), true},
		{"an IPv6 entry in brackets with a port is read", github, req(frontEnd, "[2606:50c0:8000::153]:443"), true},
		{"an IPv4-mapped IPv6 entry is unmapped", github, req(frontEnd, "::ffff:192.30.252.10"), true},
		{"a single allowed host matches itself", github, req(frontEnd, "203.0.113.7"), true},
		{"a single allowed host does not match its neighbour", github, req(frontEnd, "203.0.113.8"), false},
		{"a garbage last entry is refused", github, req(frontEnd, "192.30.252.10, garbage"), false},
		{"an empty last entry is refused", github, req(frontEnd, "192.30.252.10,"), false},
		{"an empty header is refused", github, req(frontEnd, ""), false},
		{"a zoned last entry is refused", github, req(frontEnd, "fe80::1%eth0"), false},
		{"a host name is refused", github, req(frontEnd, "github.com"), false},
		{"without XFF the RemoteAddr host is the client", github, req("192.30.252.10:1234"), true},
		{"without XFF an outside RemoteAddr is refused", github, req("6.6.6.6:1234"), false},
		{"without XFF a garbage RemoteAddr is refused", github, req("pipe"), false},
		{"behind a load balancer the second entry from the end is the client", behindLB, req(frontEnd, "6.6.6.6, 192.30.252.10, 34.1.2.3"), true},
		{"behind a load balancer the LB address itself is not the client", behindLB, req(frontEnd, "6.6.6.6, 192.30.252.10"), false},
		{"behind a load balancer fewer entries than proxies is refused", behindLB, req(frontEnd, "192.30.252.10"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.list.Allowed(tt.r); got != tt.want {
				t.Errorf("Allowed(XFF %q, RemoteAddr %q) = %v, want %v",
					tt.r.Header.Values("X-Forwarded-For"), tt.r.RemoteAddr, got, tt.want)
			}
		})
	}
}

func TestZeroListAllowsNothing(t *testing.T) {
	var l ipallow.List
	if l.Allowed(req(frontEnd, "192.30.252.10")) {
		t.Error("the zero List allowed a client")
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		r      *http.Request
		want   string
		wantOK bool
	}{
		{"the last entry", req(frontEnd, "1.1.1.1, 2.2.2.2"), "2.2.2.2", true},
		{"IPv6 with brackets and port", req(frontEnd, "[2001:db8::1]:80"), "2001:db8::1", true},
		{"IPv4-mapped is unmapped", req(frontEnd, "::ffff:198.51.100.4"), "198.51.100.4", true},
		{"RemoteAddr without XFF", req("198.51.100.9:5000"), "198.51.100.9", true},
		{"RemoteAddr IPv6 without XFF", req("[2001:db8::2]:5000"), "2001:db8::2", true},
		{"garbage", req(frontEnd, "1.1.1.1, <script>"), "", false},
		{"leading zeros are not guessed at", req(frontEnd, "010.0.0.1"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ipallow.ClientIP(tt.r)
			if ok != tt.wantOK || (ok && got.String() != tt.want) {
				t.Errorf("ClientIP = %v, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzClientIP feeds arbitrary X-Forwarded-For values and remote
// addresses. Properties: no panic; an address found is valid, unmapped and
// zone-free; entries a client prepends never change the answer; and a list
// holding exactly that address allows the request.
func FuzzClientIP(f *testing.F) {
	f.Add("1.2.3.4", "10.0.0.1:80")
	f.Add("a, b, [::1]:8", "")
	f.Add("::ffff:1.2.3.4", "[::1]:1")
	f.Add("", "fe80::1%eth0")
	f.Add(" , ,", "1.2.3.4")
	f.Add("[1.2.3.4]:99999", "x:y:z")
	f.Fuzz(func(t *testing.T, xff, remote string) {
		r := req(remote)
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		addr, ok := ipallow.ClientIP(r)
		if !ok {
			return
		}
		if !addr.IsValid() || addr.Is4In6() || addr.Zone() != "" {
			t.Fatalf("ClientIP = %v: not a plain address", addr)
		}
		if xff != "" {
			spoofed := req(remote, "6.6.6.6, "+xff)
			if got, ok := ipallow.ClientIP(spoofed); !ok || got != addr {
				t.Fatalf("a prepended entry changed ClientIP from %v to %v, %v", addr, got, ok)
			}
		}
		l, err := ipallow.Parse([]string{netip.PrefixFrom(addr, addr.BitLen()).String()})
		if err != nil {
			t.Fatalf("Parse(%v): %v", addr, err)
		}
		if !l.Allowed(r) {
			t.Fatalf("a list of exactly %v refused it", addr)
		}
	})
}

func BenchmarkAllowed(b *testing.B) {
	l, err := ipallow.Parse([]string{"192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20", "2a0a:a440::/29", "2606:50c0::/32"})
	if err != nil {
		b.Fatal(err)
	}
	r := req(frontEnd, "6.6.6.6, 7.7.7.7, 2606:50c0:8000::153")
	for b.Loop() {
		if !l.Allowed(r) {
			b.Fatal("refused")
		}
	}
}
