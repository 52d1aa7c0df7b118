"""Draw the default status, direction, client type and app pictures.

Run with any Python that has Pillow: ``python tools/make_pictures.py``.
The PNGs it writes under static/ are committed; this script documents how.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

PICTURES = {
    # status: colour, symbol
    "status_answered": ("#28a745", "\u2714"),
    "status_missed": ("#dc3545", "\u2716"),
    "status_busy": ("#fd7e14", "\u2212"),
    "status_failed": ("#6c757d", "!"),
    "status_unknown": ("#17a2b8", "?"),
    # Incoming calls matter most to the business: the brightest picture.
    "direction_incoming": ("#ffcc00", "\u2199"),
    "direction_outgoing": ("#3d6fd6", "\u2197"),
    "direction_internal": ("#8a8f98", "\u21c4"),
    "client_type_prospect": ("#5bc0de", "P"),
    "client_type_customer": ("#28a745", "C"),
    "client_type_problem": ("#dc3545", "!"),
    "client_type_vip": ("#d4af37", "\u2605"),
}


def draw(colour, symbol, size=128):
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.ellipse((4, 4, size - 4, size - 4), fill=colour)
    font = ImageFont.truetype(FONT, int(size * 0.55))
    dark = colour in ("#ffcc00", "#d4af37")
    pen.text(
        (size / 2, size / 2), symbol, font=font, anchor="mm", fill="#222222" if dark else "white"
    )
    return image


def main():
    target = ROOT / "static" / "src" / "img"
    target.mkdir(parents=True, exist_ok=True)
    for name, (colour, symbol) in PICTURES.items():
        draw(colour, symbol).save(target / f"{name}.png", optimize=True)
    icon = Image.new("RGBA", (256, 256), "#1f6f8b")
    pen = ImageDraw.Draw(icon)
    font = ImageFont.truetype(FONT, 170)
    pen.text((128, 132), "\u260e", font=font, anchor="mm", fill="white")
    icon.save(ROOT / "static" / "description" / "icon.png", optimize=True)


if __name__ == "__main__":
    main()
