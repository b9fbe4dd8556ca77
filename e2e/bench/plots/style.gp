# SPDX-License-Identifier: Apache-2.0
# Look shared by the bench plots: one colour and point per datapath, in the
# contract's order (report.py passes linetype = 1 + index in that order).
set encoding utf8
set datafile missing "?"
set border 3 lc rgb "#444444"
set tics nomirror
set grid lc rgb "#dddddd" lt 1
set key noautotitle
set linetype 1 lc rgb "#000000" pt 7 ps 1.2 lw 2
set linetype 2 lc rgb "#7f7f7f" pt 5 ps 1.1 lw 2
set linetype 3 lc rgb "#1f5fb4" pt 7 ps 1.3 lw 3
set linetype 4 lc rgb "#17becf" pt 9 ps 1.3 lw 2
set linetype 5 lc rgb "#ff7f0e" pt 5 ps 1.1 lw 2
set linetype 6 lc rgb "#8c564b" pt 11 ps 1.3 lw 2
set linetype 7 lc rgb "#2ca02c" pt 13 ps 1.3 lw 2
set linetype 8 lc rgb "#9467bd" pt 15 ps 1.2 lw 2
set linetype 9 lc rgb "#d62728" pt 7 ps 1.2 lw 2
set linetype 10 lc rgb "#e377c2" pt 5 ps 1.1 lw 2
set linetype 11 lc rgb "#bcbd22" pt 3 ps 1.2 lw 2
