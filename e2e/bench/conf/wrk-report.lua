-- wrk's summary as one JSON line (e2e/bench/lib/load.bash reads it).
-- Latency in microseconds; errors: socket errors plus non-2xx/3xx answers.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCHJSON {"requests":%d,"duration_us":%d,"socket_errors":%d,"status_errors":%d,' ..
		'"p50":%.1f,"p90":%.1f,"p99":%.1f,"p999":%.1f,"mean":%.1f,"max":%.1f}\n',
		summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency:percentile(99.9), latency.mean, latency.max))
end
