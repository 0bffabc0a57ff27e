package render

import "testing"

// BenchmarkRender measures one message render, including Telegram-exact
// length measurement; the 300-alert case includes the binary search that
// leaves alerts out.
func BenchmarkRender(b *testing.B) {
	r := newTestRenderer(b, Options{})
	for _, bc := range []struct {
		name   string
		alerts int
	}{{"3alerts", 3}, {"300alerts", 300}} {
		g := manyAlerts(bc.alerts)
		for _, mode := range []Mode{MarkdownV2, HTML} {
			b.Run(bc.name+"/"+string(mode), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := r.Render(g, "default", mode); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
