# SPDX-License-Identifier: Apache-2.0
# (b) Latency percentiles of keep-alive requests per datapath, log scale.
# From report.py: dat, n, subtitle, ymin, here.
load here.'/style.gp'
set title "Request latency, keep-alive (lower is better)\n{/*0.85 ".subtitle."}"
set ylabel "latency (µs, log scale)"
set xlabel "datapath"
set logscale y
set yrange [ymin:*]
set autoscale yfixmax
set offsets 0, 0, graph 0.15, 0
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border rgb "#333333"
set boxwidth 1
set xrange [-0.6:n - 0.4]
set xtics rotate by 30 right font ",10"
set grid noxtics ytics mytics
set key inside top left horizontal opaque box lc rgb "#bbbbbb"
plot dat using 2:xtic(1) title "p50" lc rgb "#9ecae1", \
	'' using 3 title "p99" lc rgb "#3182bd", \
	'' using 4 title "p99.9" lc rgb "#08306b"
