# plot.gp — the chart of bench/run.sh: each target's measured ratio next to its goal.
#   gnuplot -e "datafile='…'; outfile='….png'; subtitle='…'" bench/plot.gp
# datafile columns: x, "label", measured ratio, goal, pass (1/0), "measured text", "goal text"
if (!exists("subtitle")) subtitle = ""

set terminal pngcairo size 3000,760 font "DejaVu Sans,12"
set output outfile
set encoding utf8
set title "kvstore vs references: measured ratio (green = target met, red = missed) and goal (grey)\n{/*0.8 ".subtitle."}"
set style fill solid 0.9 border rgb "#333333"
set boxwidth 0.36
set logscale y 10
set yrange [0.02:60]
set ytics (0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)
set ylabel "ratio (log scale)"
set grid ytics lc rgb "#dddddd"
stats datafile using 1 nooutput
set xrange [0.4:STATS_max + 0.6]
set xtics nomirror scale 0 font ",10"
set key top left opaque
set lmargin 10
set bmargin 5

set label 1 "≥ goals: taller green is better\n≤ / < goals (p99, keys, RSS): lower is better" at graph 0.99, graph 0.95 right font ",10"

plot datafile using ($1-0.19):3:($5 == 1 ? 0x2e8b57 : 0xc0392b) with boxes lc rgb variable notitle, \
     ''       using ($1+0.19):4 with boxes lc rgb "#9a9a9a" title "goal", \
     ''       using 1:(NaN):xtic(2) with points notitle, \
     ''       using ($1-0.19):3:6 with labels offset 0,0.8 font ",11" notitle, \
     ''       using ($1+0.19):4:7 with labels offset 0,0.8 font ",11" tc rgb "#555555" notitle, \
     NaN with boxes lc rgb "#2e8b57" title "kvs: target met", \
     NaN with boxes lc rgb "#c0392b" title "kvs: target missed", \
     1 with lines lc rgb "#333333" dt 2 notitle
