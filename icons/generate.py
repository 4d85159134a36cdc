#!/usr/bin/env python3
"""Draws Partyline's app icon (three QR finder marks and a burst of "party" waves on a
violet-to-pink rounded square) and writes every size Tauri's bundler wants.

    python3 icons/generate.py      # needs Pillow (pip install pillow)

Writes icons/32x32.png, 128x128.png, 128x128@2x.png, icon.png (512) and icon.ico (16–256),
all RGBA as Tauri requires.
"""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
S = 1024  # drawn at this size, then scaled down (antialiasing)
TOP, BOTTOM = (124, 58, 237), (219, 39, 119)  # violet-600 → pink-600
WHITE = (255, 255, 255, 255)


def gradient(size):
    g = Image.new("RGBA", (size, size))
    px = g.load()
    for y in range(size):
        for x in range(size):
            t = (0.75 * y + 0.25 * x) / size
            px[x, y] = tuple(round(a + (b - a) * t) for a, b in zip(TOP, BOTTOM)) + (255,)
    return g


def draw():
    margin = round(S * 0.06)
    inner = S - 2 * margin
    mask = Image.new("L", (S, S), 0)
    ImageDraw.Draw(mask).rounded_rectangle((margin, margin, S - margin, S - margin), radius=round(inner * 0.22), fill=255)
    icon = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    icon.paste(gradient(S), (0, 0), mask)
    d = ImageDraw.Draw(icon)

    # Three QR finder marks: outer ring, gap, solid centre (7:5:3 like a real finder pattern).
    unit = inner / 10.5
    def finder(x0, y0):
        o = 3.5 * unit
        d.rounded_rectangle((x0, y0, x0 + o, y0 + o), radius=unit * 0.9, fill=WHITE)
        d.rounded_rectangle((x0 + unit * 0.6, y0 + unit * 0.6, x0 + o - unit * 0.6, y0 + o - unit * 0.6), radius=unit * 0.5, fill=(0, 0, 0, 0))
        c = unit * 1.15
        d.rounded_rectangle((x0 + c, y0 + c, x0 + o - c, y0 + o - c), radius=unit * 0.35, fill=WHITE)

    # Punch the ring's gap through to the gradient: draw on a separate layer, then composite.
    layer = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    pad = margin + 1.3 * unit
    far = S - margin - 1.3 * unit - 3.5 * unit
    for x0, y0 in ((pad, pad), (far, pad), (pad, far)):
        finder(x0, y0)

    # Bottom right: a burst of three waves from a dot (the party, heard across the room).
    cx, cy = far + 0.9 * unit, far + 0.9 * unit
    r = 0.55 * unit
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=WHITE)
    width = round(unit * 0.55)
    for i, radius in enumerate((1.4, 2.3, 3.2)):
        rr = radius * unit
        d.arc((cx - rr, cy - rr, cx + rr, cy + rr), start=0, end=90, fill=WHITE, width=width)
    icon.alpha_composite(layer)
    return icon


def main():
    big = draw()
    sizes = {"32x32.png": 32, "128x128.png": 128, "128x128@2x.png": 256, "icon.png": 512}
    for name, size in sizes.items():
        big.resize((size, size), Image.LANCZOS).save(HERE / name)
    big.resize((256, 256), Image.LANCZOS).save(HERE / "icon.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    print("wrote", ", ".join(list(sizes) + ["icon.ico"]), "in", HERE)


if __name__ == "__main__":
    main()
