"""Render SrTiO3 along [001] and [110] with HAADF-like (Z^1.7) and random contrast.

    python examples/render_known_structure.py
"""

from emsim.io import write_image
from emsim.imaging.known import default_structure, render_file

for axis in ((0, 0, 1), (1, 1, 0)):
    for contrast in ("zpower", "random"):
        image, record = render_file(default_structure(), 0.05, (256, 256), axis, contrast=contrast, seed=1)
        name = f"srtio3_{''.join(map(str, axis))}_{contrast}.png"
        write_image(name, image)
        print(name, record["n_atoms"], "atoms")
