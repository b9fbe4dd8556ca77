# SPDX-License-Identifier: Apache-2.0
# (c) CPU time per request against the number of Services, one line per
# datapath measured at two sizes or more; new connections left, keep-alive
# right. From report.py: dat (one block per datapath: size, close, keep-alive),
# n, names, lts, xt, xmin, xmax, here.
load here.'/style.gp'
set multiplot layout 1, 2 margins 0.06, 0.80, 0.13, 0.87 spacing 0.08 \
	title "CPU time per request against the number of Services (same-node, system + user)" font ",12"
set logscale x
set xrange [xmin:xmax]
set xtics @xt
set xlabel "Services present (log scale)"
set ylabel "CPU µs per request"
set yrange [0:*]
set offsets 0, 0, graph 0.05, 0
# one legend, right of both panels (same colours in each)
set key at screen 0.82, 0.87 left top Left reverse font ",10" box lc rgb "#bbbbbb"
set key off
set title "new connections (Connection: close)"
plot for [i = 1:n] dat index (i - 1) using 1:2 with linespoints lt (word(lts, i) + 0) title word(names, i)
set key on
set title "keep-alive requests"
plot for [i = 1:n] dat index (i - 1) using 1:3 with linespoints lt (word(lts, i) + 0) title word(names, i)
unset multiplot
