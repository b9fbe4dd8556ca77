# SPDX-License-Identifier: Apache-2.0
# (a) Throughput of each datapath as a ratio to direct pod IP, keep-alive and
# new connections side by side. From report.py: dat, n, subtitle, here.
load here.'/style.gp'
set title "Throughput relative to direct pod IP (higher is better)\n{/*0.85 ".subtitle."}"
set ylabel "requests/s ÷ requests/s of direct pod IP"
set xlabel "datapath"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border rgb "#333333"
set boxwidth 1
set xrange [-0.6:n - 0.4]
set yrange [0:*]
set offsets 0, 0, graph 0.22, 0
set xtics rotate by 30 right font ",10"
set grid noxtics ytics
set key inside top right vertical opaque box lc rgb "#bbbbbb" font ",10"
plot dat using 2:xtic(1) title "keep-alive requests/s" lc rgb "#1f5fb4", \
	'' using 3 title "new connections/s (Connection: close)" lc rgb "#ff7f0e", \
	'' using ($0 - 1./6):2:(sprintf("%.3g", $2)) with labels offset 0, 0.6 font ",7", \
	'' using ($0 + 1./6):3:(sprintf("%.3g", $3)) with labels offset 0, 0.6 font ",7", \
	1 with lines dt 2 lw 1.5 lc rgb "#555555" title "direct pod IP = 1.0"
