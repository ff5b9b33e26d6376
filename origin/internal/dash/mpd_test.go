package dash

import (
	"testing"
	"time"
)

// TestDASHAttributeForms: xs:duration both ways, frameRate and
// xs:dateTime as the MPD writes them.
func TestDASHAttributeForms(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "PT0S"}, {20 * time.Second, "PT20S"}, {1500 * time.Millisecond, "PT1.5S"}, {1772366400 * time.Second, "PT1772366400S"}} {
		if got := XSDuration(tc.d); got != tc.want {
			t.Errorf("XSDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
		if back, err := ParseXSDuration(tc.want); err != nil || back != tc.d {
			t.Errorf("ParseXSDuration(%q) = %v, %v", tc.want, back, err)
		}
	}
	if d, err := ParseXSDuration("P1DT1H2M3.5S"); err != nil || d != 25*time.Hour+2*time.Minute+3500*time.Millisecond {
		t.Errorf("P1DT1H2M3.5S = %v, %v", d, err)
	}
	for _, bad := range []string{"", "T1S", "PT", "P1S", "PTxS"} {
		if _, err := ParseXSDuration(bad); err == nil {
			t.Errorf("ParseXSDuration(%q) accepted", bad)
		}
	}
	for f, want := range map[float64]string{25: "25", 29.97: "30000/1001", 59.94: "60000/1001", 23.976: "24000/1001", 12.5: "12.500", 0: ""} {
		if got := FrameRate(f); got != want {
			t.Errorf("FrameRate(%v) = %q, want %q", f, got, want)
		}
	}
	if got := XSDateTime(0); got != "1970-01-01T00:00:00.000Z" {
		t.Errorf("XSDateTime(0) = %q", got)
	}
}
