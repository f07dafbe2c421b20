//! Bar charts drawn as SVG on the server: the geometry is worked out here and the template
//! writes it, each bar (or part of a stacked bar) a link to the conversations it counts. No
//! script and no chart library: a chart is a few rectangles, and a link works without either.

/// The drawing's size in SVG units (it scales to the page's width).
const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
/// Room for the value axis on the left and the group labels below.
const LEFT: f64 = 44.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;
const RIGHT: f64 = 8.0;
/// The width of a label's character in SVG units at the chart's font size (a Chinese
/// character counts twice), and the room kept between labels.
const CHAR_WIDTH: f64 = 7.5;
const LABEL_GAP: f64 = 10.0;
/// Longer group labels are cut (the whole label is in the tooltip).
const LABEL_CHARS: usize = 12;

/// One part of a bar: a link to the conversations it counts.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub(super) value: f64,
    /// A CSS class saying which series it is.
    pub(super) class: &'static str,
    pub(super) href: String,
    /// The tooltip: the group, the series and the figure.
    pub(super) title: String,
}

/// One group's bar, its parts from the bottom up.
#[derive(Debug, Clone)]
pub(super) struct BarInput {
    pub(super) label: String,
    pub(super) segments: Vec<Segment>,
}

/// A part of a bar where it is drawn.
#[derive(Debug)]
pub(super) struct Rect {
    pub(super) x: String,
    pub(super) y: String,
    pub(super) width: String,
    pub(super) height: String,
    pub(super) class: &'static str,
    pub(super) href: String,
    pub(super) title: String,
}

/// Text placed on the chart.
#[derive(Debug)]
pub(super) struct Label {
    pub(super) x: String,
    pub(super) y: String,
    pub(super) text: String,
}

/// A chart ready for the template.
#[derive(Debug)]
pub(super) struct Chart {
    pub(super) id: &'static str,
    pub(super) title: String,
    pub(super) width: f64,
    pub(super) height: f64,
    pub(super) rects: Vec<Rect>,
    pub(super) labels: Vec<Label>,
    /// Value axis: its gridlines' y and their labels.
    pub(super) ticks: Vec<Label>,
    pub(super) axis_x: String,
    pub(super) axis_right: String,
    pub(super) baseline: String,
    /// The series' classes and names, for the legend.
    pub(super) legend: Vec<(&'static str, String)>,
}

fn at(value: f64) -> String {
    format!("{value:.1}")
}

/// Lays out bars; `format` writes an axis value (`12`, `50%`), `ceiling` is the axis' top when
/// fixed (shares go to 100%), otherwise the tallest bar rounded up.
pub(super) fn bar_chart(
    id: &'static str,
    title: String,
    bars: Vec<BarInput>,
    legend: Vec<(&'static str, String)>,
    ceiling: Option<f64>,
    format: impl Fn(f64) -> String,
) -> Chart {
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let tallest = bars
        .iter()
        .map(|bar| bar.segments.iter().map(|segment| segment.value.max(0.0)).sum::<f64>())
        .fold(0.0, f64::max);
    let top = ceiling.unwrap_or_else(|| nice_ceiling(tallest));
    let scale = if top > 0.0 { plot_height / top } else { 0.0 };
    let baseline = TOP + plot_height;
    let slot = plot_width / bars.len().max(1) as f64;
    let bar_width = (slot * 0.7).min(48.0);
    // Every label when they fit side by side, else every second, third... (each bar's tooltip
    // still names it).
    let widest = bars.iter().map(|bar| label_width(&short(&bar.label))).fold(0.0, f64::max);
    let fit = ((plot_width / (widest + LABEL_GAP)).floor() as usize).max(1);
    let every = bars.len().div_ceil(fit).max(1);
    let mut rects = Vec::new();
    let mut labels = Vec::new();
    for (index, bar) in bars.into_iter().enumerate() {
        let x = LEFT + slot * index as f64 + (slot - bar_width) / 2.0;
        let mut y = baseline;
        for segment in bar.segments {
            let height = segment.value.max(0.0) * scale;
            if height <= 0.0 {
                continue;
            }
            y -= height;
            rects.push(Rect {
                x: at(x),
                y: at(y),
                width: at(bar_width),
                height: at(height),
                class: segment.class,
                href: segment.href,
                title: segment.title,
            });
        }
        if index % every == 0 {
            let text = short(&bar.label);
            labels.push(Label { x: at(x + bar_width / 2.0), y: at(baseline + 16.0), text });
        }
    }
    let ticks = [0.0, 0.5, 1.0]
        .into_iter()
        .map(|part| Label {
            x: at(LEFT - 6.0),
            y: at(baseline - plot_height * part),
            text: format(top * part),
        })
        .collect();
    Chart {
        id,
        title,
        width: WIDTH,
        height: HEIGHT,
        rects,
        labels,
        ticks,
        axis_x: at(LEFT),
        axis_right: at(WIDTH - RIGHT),
        baseline: at(baseline),
        legend,
    }
}

/// A group's label as written under its bar: a day without its year (`09-07`), anything else
/// cut to [`LABEL_CHARS`].
fn short(label: &str) -> String {
    let is_day = label.len() == 10
        && label.bytes().enumerate().all(|(at, byte)| {
            if at == 4 || at == 7 { byte == b'-' } else { byte.is_ascii_digit() }
        });
    if is_day {
        return label[5..].to_owned();
    }
    let mut text: String = label.chars().take(LABEL_CHARS).collect();
    if label.chars().count() > LABEL_CHARS {
        text.push('…');
    }
    text
}

fn label_width(label: &str) -> f64 {
    label.chars().map(|c| if c.is_ascii() { CHAR_WIDTH } else { 2.0 * CHAR_WIDTH }).sum()
}

/// The smallest of 1, 2, 5 × 10ⁿ (and 1 for nothing) at or above `value`, so the axis' half and
/// top read as round numbers.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, values: &[f64]) -> BarInput {
        BarInput {
            label: label.into(),
            segments: values
                .iter()
                .map(|value| Segment {
                    value: *value,
                    class: "a",
                    href: format!("/x?{value}"),
                    title: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn stacked_bars_sit_on_each_other_and_scale_to_a_round_top() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(50.0), 50.0);
        let chart = bar_chart(
            "c",
            String::new(),
            vec![bar("2026-09-07", &[3.0, 2.0]), bar("b", &[0.0, 5.0])],
            Vec::new(),
            None,
            |value| format!("{value}"),
        );
        // An empty part draws nothing; the others are links.
        assert_eq!(chart.rects.len(), 3);
        let (bottom, upper) = (&chart.rects[0], &chart.rects[1]);
        let (y0, h0): (f64, f64) = (bottom.y.parse().unwrap(), bottom.height.parse().unwrap());
        let (y1, h1): (f64, f64) = (upper.y.parse().unwrap(), upper.height.parse().unwrap());
        assert!((y1 + h1 - y0).abs() < 0.2, "stacked: {y1}+{h1} meets {y0}");
        assert!((h0 / h1 - 1.5).abs() < 0.01);
        // Both bars are 5 high on an axis up to 5.
        assert_eq!(chart.ticks[2].text, "5");
        assert_eq!(chart.rects[2].height, at(h0 + h1));
        assert_eq!(chart.labels[0].text, "09-07", "days without their year");
        assert_eq!(short("售后服务 After-sales"), "售后服务 After-s…");
    }
}
