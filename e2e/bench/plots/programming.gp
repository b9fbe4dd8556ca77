# SPDX-License-Identifier: Apache-2.0
# (d) Time to program the whole set and to add one Service against the number
# of Services, log-log; a step stopped at the budget is drawn as a triangle on
# the budget line. From report.py: dat (one block per datapath: size, full,
# add, full at budget, add at budget), n, names, lts, xt, xmin, xmax,
# budget_ms (0 when nothing hit it), here.
load here.'/style.gp'
set multiplot layout 1, 2 margins 0.06, 0.80, 0.13, 0.87 spacing 0.08 \
	title "Programming time against the number of Services (kernel step only, lower is better)" font ",12"
set logscale xy
set xrange [xmin:xmax]
set xtics @xt
set format y "10^{%L}"
set xlabel "Services present (log scale)"
set ylabel "time (ms, log scale)"
set offsets 0, 0, graph 0.05, graph 0.05
# one legend, right of both panels (same colours in each)
set key at screen 0.82, 0.87 left top Left reverse font ",10" box lc rgb "#bbbbbb"
bp = budget_ms <= 0 ? "" : sprintf(", %g with lines dt 2 lw 1.5 lc rgb '#555555' " . \
	"title 'budget (%g s)', NaN with points pt 9 ps 1.5 lc rgb '#555555' " . \
	"title 'stopped at budget'", budget_ms, budget_ms / 1000)
set key off
set title "whole set"
plot for [i = 1:n] dat index (i - 1) using 1:2 with linespoints lt (word(lts, i) + 0) title word(names, i), \
	for [i = 1:n] dat index (i - 1) using 1:4 with points lt (word(lts, i) + 0) pt 9 ps 2.5 @bp
set key on
set title "add one Service"
plot for [i = 1:n] dat index (i - 1) using 1:3 with linespoints lt (word(lts, i) + 0) title word(names, i), \
	for [i = 1:n] dat index (i - 1) using 1:5 with points lt (word(lts, i) + 0) pt 9 ps 2.5 @bp
unset multiplot
