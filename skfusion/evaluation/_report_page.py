"""One self-contained HTML page: tables as HTML, figures as embedded PNGs, no outside
resources (it opens offline, in a browser or an e-mail attachment)."""

import base64
import html
import io

#: The page's sections, in order: (id, heading).
SECTIONS = [
    ("data", "Data"),
    ("discrimination", "Discrimination"),
    ("calibration", "Calibration"),
    ("decision-curve", "Decision curve"),
    ("subgroups", "Subgroups"),
    ("conformal", "Conformal prediction sets"),
    ("maps", "Grad-CAM maps"),
    ("settings", "Settings"),
    ("versions", "Versions"),
]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; display: block;
        overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right;
         white-space: nowrap; }
th { background: #f4f4f4; } img { max-width: 100%; }
p.note { color: #555; font-size: 0.9rem; } nav a { margin-right: 0.8rem; }
"""

# Marks every figure once the browser has decoded it (what a headless check reads back).
_SCRIPT = """
window.addEventListener("load", function () {
  for (const image of document.images) {
    image.dataset.rendered = (image.complete && image.naturalWidth > 0) ? "yes" : "no";
  }
  document.body.dataset.ready = "yes";
});
"""


def figure_png(figure):
    """A matplotlib figure as an embedded ``<img>``; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return png_tag(buffer.getvalue())


def png_tag(data, alt="figure"):
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def table(frame, digits=3):
    """A DataFrame as an HTML table, numbers rounded, text escaped."""
    return frame.to_html(
        float_format=lambda v: f"{v:.{digits}f}", na_rep="–", escape=True, border=0
    )


def note(text):
    return f'<p class="note">{html.escape(text)}</p>'


def page(title, subtitle, sections):
    """The page: ``sections`` maps each id of :data:`SECTIONS` to its HTML body."""
    navigation = " ".join(f'<a href="#{key}">{html.escape(name)}</a>' for key, name in SECTIONS)
    body = "\n".join(
        f'<section id="{key}"><h2>{html.escape(name)}</h2>\n{sections[key]}\n</section>'
        for key, name in SECTIONS
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>{note(subtitle)}<nav>{navigation}</nav>\n"
        f"{body}\n<script>{_SCRIPT}</script></body></html>\n"
    )
