package loadtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

// backlogChats is how many chats the backlog scenario's route sends to:
// private chats, so only the per-chat (1/s) and the bot-wide (30/s) limits
// apply, and every chat has a worker (MaxWorkers is 1000).
const backlogChats = 1000

// TestBacklog measures resident memory against the size of the backlog:
// for each size, a fresh alertgram gets groups webhooks (each its own alert
// group, two alerts) on a route with 1,000 private chats, so groups × 1,000
// deliveries are pending at once, and drains them at Telegram's 30/s. It
// prints RSS once the backlog is in, the peak, the median while draining
// and after, with the time the drain took.
//
//	go test ./internal/loadtest -run TestBacklog -load -v -timeout 30m
func TestBacklog(t *testing.T) {
	if !*load {
		t.Skip("load scenarios run only with -load (make load)")
	}
	var rows []string
	defer func() {
		t.Log("\n| pending deliveries | webhook body | RSS after start | RSS with the backlog in | peak RSS | median RSS while draining | RSS drained | drained after | messages / 429s |\n" +
			"|---|---|---|---|---|---|---|---|---|\n" + strings.Join(rows, ""))
	}()
	for _, groups := range []int{10, 50, 90} {
		t.Run(fmt.Sprintf("%dk", groups), func(t *testing.T) {
			rows = append(rows, backlogRun(t, groups))
		})
	}
}

// backlogRun runs one backlog size and returns its table row.
func backlogRun(t *testing.T, groups int) string {
	fake := testutil.NewTelegram(t)
	ids := make([]string, backlogChats)
	for i := range ids {
		ids[i] = strconv.Itoa(800000 + i)
	}
	p := start(t, fake, "  - name: backlog\n    chats: ["+strings.Join(ids, ", ")+"]\n")
	startRSS, _ := p.rss(t)
	url := p.url + "/webhook/alertmanager/backlog"
	begin := time.Now()
	var bodyLen int
	for i := range groups {
		body := backlogWebhook(i, begin)
		bodyLen = len(body)
		if _, err := post(t.Context(), url, body); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	want := groups * backlogChats
	var (
		inRSS   float64 // RSS once every webhook is in
		samples []float64
		pending = want
	)
	inRSS, _ = p.rss(t)
	var lastScrape, lastLog time.Time
	drained := until(t, 20*time.Minute, "backlog drained", func() bool {
		cur, _ := p.rss(t)
		samples = append(samples, cur)
		if time.Since(lastScrape) >= time.Second {
			lastScrape = time.Now()
			pending = outboxItems(t, p, "pending") + outboxItems(t, p, "unrouted")
		}
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			t.Logf("%5.1f s: %6d pending, RSS %.1f MiB", time.Since(begin).Seconds(), pending, cur)
		}
		return pending == 0
	})
	if got := outboxItems(t, p, "delivered"); got != want {
		t.Errorf("delivered deliveries = %d, want %d", got, want)
	}
	endRSS, peak := p.rss(t)
	slices.Sort(samples)
	median := samples[len(samples)/2]
	msgs, violations := len(fake.Messages()), fake.Violations()
	t.Logf("%d pending: RSS start %.1f, backlog in %.1f, peak %.1f, median %.1f, drained %.1f MiB; %d messages, %d × 429 in %.1f s",
		want, startRSS, inRSS, peak, median, endRSS, msgs, violations, drained.Sub(begin).Seconds())
	return fmt.Sprintf("| %d | %d B | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f s | %d / %d |\n",
		want, bodyLen, startRSS, inRSS, peak, median, endRSS, drained.Sub(begin).Seconds(), msgs, violations)
}

// backlogWebhook is an Alertmanager webhook for alert group i with two
// alerts, labelled and annotated as a Kubernetes alert typically is.
func backlogWebhook(i int, startsAt time.Time) []byte {
	name := fmt.Sprintf("Backlog%04d", i)
	sev := []string{"critical", "warning", "info"}[i%3]
	var alerts []map[string]any
	for pod := range 2 {
		labels := map[string]string{
			"alertname": name, "severity": sev, "cluster": "prod-eu-west-1", "namespace": "payments",
			"job": "kubernetes-pods", "pod": fmt.Sprintf("checkout-7d9f8b6c5-%05d", pod), "team": "payments-sre",
			"instance": fmt.Sprintf("10.42.%d.%d:8080", i%250, pod),
		}
		alerts = append(alerts, map[string]any{
			"status": "firing", "startsAt": startsAt.Format(time.RFC3339Nano), "endsAt": "0001-01-01T00:00:00Z",
			"labels": labels,
			"annotations": map[string]string{
				"summary":     name + " on " + labels["pod"],
				"description": "The p99 latency of checkout requests has been above 2s for 10 minutes on " + labels["pod"] + "; customers see timeouts at payment.",
				"runbook_url": "https://runbooks.example.com/payments/" + strings.ToLower(name),
			},
			"generatorURL": "https://prometheus.example.com/graph?g0.expr=histogram_quantile%280.99%2C+rate%28http_request_duration_seconds_bucket%5B5m%5D%29%29+%3E+2",
			"fingerprint":  fmt.Sprintf("%08x%08x", i, pod),
		})
	}
	body, _ := json.Marshal(map[string]any{
		"version": "4", "status": "firing", "receiver": "alertgram",
		"groupKey":          fmt.Sprintf(`{}:{alertname=%q}`, name),
		"groupLabels":       map[string]string{"alertname": name},
		"commonLabels":      map[string]string{"alertname": name, "severity": sev, "cluster": "prod-eu-west-1", "namespace": "payments", "job": "kubernetes-pods", "team": "payments-sre"},
		"commonAnnotations": map[string]string{},
		"externalURL":       "https://alertmanager.example.com",
		"alerts":            alerts,
	})
	return body
}

// outboxItems reads alertgram_outbox_items{state=state} from /metrics.
func outboxItems(t *testing.T, p *proc, state string) int {
	t.Helper()
	resp, err := get(t.Context(), p.url+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	prefix := `alertgram_outbox_items{state="` + state + `"} `
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatalf("/metrics has no %s", strings.TrimSpace(prefix))
	return 0
}
