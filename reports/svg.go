package reports

import (
	"html/template"

	"gonum.org/v1/plot"
)

// RenderSVG renders p as an inline <svg> element as report.html's charts
// are drawn (size, legend beside the plot, labelled with title), for other
// reports that embed charts (reports/capacity).
func RenderSVG(p *plot.Plot, title string) (template.HTML, error) {
	return renderSVG(p, title)
}
