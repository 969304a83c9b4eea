package process

import "testing"

func TestParseVmStatus(t *testing.T) {
	status := "Name:\ttrain\nVmPeak:\t 1000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t7\n"
	hwm, rss, err := ParseVmStatus(status)
	if err != nil || hwm != 50<<20 || rss != 40<<20 {
		t.Fatalf("ParseVmStatus = %d, %d, %v; want %d, %d", hwm, rss, err, 50<<20, 40<<20)
	}
	for _, bad := range []string{
		"Name:\ttrain\n",
		"VmRSS:\t1 kB\n",
		"VmHWM:\t 12 MB\n",
		"VmHWM:\t x kB\n",
		"VmHWM:\t -4 kB\n",
		"VmHWM:\t 99999999999999999 kB\n",
	} {
		if _, _, err := ParseVmStatus(bad); err == nil {
			t.Errorf("ParseVmStatus(%q) succeeded", bad)
		}
	}
}

func FuzzParseVmStatus(f *testing.F) {
	f.Add("VmHWM:\t 10 kB\nVmRSS:\t 5 kB\n")
	f.Add("VmHWM: 1 kB")
	f.Fuzz(func(t *testing.T, s string) {
		hwm, rss, err := ParseVmStatus(s)
		if err == nil && (hwm < 0 || rss < 0 || hwm%1024 != 0) {
			t.Fatalf("ParseVmStatus(%q) = %d, %d", s, hwm, rss)
		}
	})
}

func TestServingAddr(t *testing.T) {
	tests := []struct {
		line, want string
		ok         bool
	}{
		{`time=2026-01-02T03:04:05Z level=INFO msg=serving service=train addr=127.0.0.1:40123`, "127.0.0.1:40123", true},
		{`time=x level=INFO msg=serving service=ingest addr=127.0.0.1:4000`, "127.0.0.1:4000", true},
		{`time=x level=INFO msg=serving addr="[::1]:7003"`, "[::1]:7003", true},
		{`time=x level=INFO msg=stopped service=train`, "", false},
		{`level=INFO msg="call" addr=127.0.0.1:1`, "", false},
	}
	for _, tc := range tests {
		got, ok := ServingAddr(tc.line)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ServingAddr(%q) = %q, %v; want %q, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}
