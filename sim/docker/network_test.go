package docker

import (
	"net/netip"
	"slices"
	"testing"
)

// TestFreeSubnet picks the first of Docker's default pools that nothing
// overlaps.
func TestFreeSubnet(t *testing.T) {
	p := netip.MustParsePrefix
	all172 := []netip.Prefix{p("172.16.0.0/12")}
	tests := []struct {
		name   string
		used   []netip.Prefix
		want   netip.Prefix
		wantOK bool
	}{
		{"nothing used", nil, p("172.17.0.0/16"), true},
		{"docker0 and a run network", []netip.Prefix{p("172.17.0.0/16"), p("172.18.0.0/16")}, p("172.19.0.0/16"), true},
		{"a route inside a pool", []netip.Prefix{p("172.17.0.0/16"), p("172.18.5.0/24")}, p("172.19.0.0/16"), true},
		{"a host address", []netip.Prefix{p("172.17.0.1/32")}, p("172.18.0.0/16"), true},
		{"172.16/12 taken", all172, p("192.168.0.0/20"), true},
		{"a /24 in 192.168", append(slices.Clone(all172), p("192.168.0.0/24")), p("192.168.16.0/20"), true},
		{"every pool taken", []netip.Prefix{p("172.16.0.0/12"), p("192.168.0.0/16")}, netip.Prefix{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := freeSubnet(tt.used)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("freeSubnet(%v) = %v, %v; want %v, %v", tt.used, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestParseRoutes reads /proc/net/route's little-endian destinations and
// masks, without the default route.
func TestParseRoutes(t *testing.T) {
	const table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n" +
		"eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"tun0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n" +
		"bad\tzz\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n" +
		"short line\n"
	got := parseRoutes([]byte(table))
	want := []netip.Prefix{
		netip.MustParsePrefix("172.17.0.0/16"),
		netip.MustParsePrefix("192.168.2.0/24"),
		netip.MustParsePrefix("10.0.0.0/8"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseRoutes = %v, want %v", got, want)
	}
}
