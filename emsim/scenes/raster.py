"""Anti-aliased rasterisation of sharp-edged shapes (numba).

Pixel (i, j) is the unit square centred on (x, y) = (j, i). Its value is the *box-filter
coverage* of the shape times the shape's intensity at the pixel centre: a sharp object
stays sharp (the edge is one pixel wide) but is band-limited like a real, finite-aperture
image instead of staircased.

Coverage from the signed distance d of the pixel centre to an edge (d < 0 inside): for
a straight edge along a pixel axis the covered fraction of the pixel is exactly
clip(0.5 - d, 0, 1), and for any orientation this ramp integrates to the step, so object
areas are preserved. Strips (width w) and lines use the 1D form: the length of
[d - 1/2, d + 1/2] inside [-w/2, w/2], so a line thinner than a pixel correctly has a
peak coverage w (``strip_cover``). Convex polygons multiply the coverages of their edges
(exact for axis-aligned rectangles, where box-filter coverage is separable; within a pixel
of other corners off by up to ~0.2); ellipses use the first-order signed distance
(f - 1) / |grad f|, f the normalised radius, exact for circles.

Measured against 16 x 16 supersampled coverage (tests/test_scenes.py): per-pixel error
< 0.08 along edges, areas within 1 % of the perimeter (polygons) and 1.5 % (ellipses).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")


@nb.njit(cache=True, inline="always")
def edge_cover(d):
    """Box-filter coverage of a pixel whose centre is at signed distance d from a straight
    edge (d < 0 inside)."""
    return min(max(0.5 - d, 0.0), 1.0)


@nb.njit(cache=True, inline="always")
def strip_cover(d, half_width):
    """Box-filter coverage of a pixel at distance d from the centre line of a strip of
    width 2 * half_width: |[d - 1/2, d + 1/2] n [-hw, hw]|."""
    return max(0.0, min(d + 0.5, half_width) - max(d - 0.5, -half_width))


@nb.njit(**JIT)
def fill_polygons(img, starts, vx, vy, planes):
    """Add convex polygons masking positive planes: polygon p has the vertices
    starts[p]:starts[p+1] of (vx, vy) (either orientation) and the intensity
    planes[p] = (c, gx, gy, x0, y0): c + gx (x - x0) + gy (y - y0), clipped at zero (a
    plane positive over the shape may dip below zero on the edge ramp just outside)."""
    H, W = img.shape
    for p in range(starts.shape[0] - 1):
        k0 = starts[p]
        m = starts[p + 1] - k0
        cx = 0.0
        cy = 0.0
        for k in range(k0, k0 + m):
            cx += vx[k]
            cy += vy[k]
        cx /= m
        cy /= m
        nx = np.empty(m)
        ny = np.empty(m)
        off = np.empty(m)
        xmin = xmax = vx[k0]
        ymin = ymax = vy[k0]
        for e in range(m):
            ax = vx[k0 + e]
            ay = vy[k0 + e]
            bx = vx[k0 + (e + 1) % m]
            by = vy[k0 + (e + 1) % m]
            length = math.sqrt((bx - ax) ** 2 + (by - ay) ** 2)
            sx = (by - ay) / length  # outward normal (flipped below if it points in)
            sy = -(bx - ax) / length
            o = sx * ax + sy * ay
            if sx * cx + sy * cy > o:
                sx, sy, o = -sx, -sy, -o
            nx[e], ny[e], off[e] = sx, sy, o
            xmin, xmax = min(xmin, ax), max(xmax, ax)
            ymin, ymax = min(ymin, ay), max(ymax, ay)
        c, gx, gy, x0, y0 = planes[p, 0], planes[p, 1], planes[p, 2], planes[p, 3], planes[p, 4]
        for i in range(max(0, int(math.ceil(ymin - 0.5))), min(H - 1, int(math.floor(ymax + 0.5))) + 1):
            for j in range(max(0, int(math.ceil(xmin - 0.5))), min(W - 1, int(math.floor(xmax + 0.5))) + 1):
                cov = 1.0
                for e in range(m):
                    d = nx[e] * j + ny[e] * i - off[e]
                    if d >= 0.5:
                        cov = 0.0
                        break
                    if d > -0.5:
                        cov *= 0.5 - d
                if cov > 0.0:
                    img[i, j] += cov * max(c + gx * (j - x0) + gy * (i - y0), 0.0)


@nb.njit(**JIT)
def fill_ellipses(img, ellipses, planes):
    """Add ellipses masking positive planes: ellipses[p] = (xc, yc, a, b, angle) with
    semi-axis a along ``angle`` (radians from +x towards +y), b across; planes as in
    ``fill_polygons``."""
    H, W = img.shape
    for p in range(ellipses.shape[0]):
        xc, yc, a, b, ang = ellipses[p, 0], ellipses[p, 1], ellipses[p, 2], ellipses[p, 3], ellipses[p, 4]
        cs = math.cos(ang)
        sn = math.sin(ang)
        ex = math.sqrt((a * cs) ** 2 + (b * sn) ** 2) + 0.5
        ey = math.sqrt((a * sn) ** 2 + (b * cs) ** 2) + 0.5
        ia2 = 1.0 / (a * a)
        ib2 = 1.0 / (b * b)
        dmin = -min(a, b)
        c, gx, gy, x0, y0 = planes[p, 0], planes[p, 1], planes[p, 2], planes[p, 3], planes[p, 4]
        for i in range(max(0, int(math.ceil(yc - ey))), min(H - 1, int(math.floor(yc + ey))) + 1):
            dy = i - yc
            for j in range(max(0, int(math.ceil(xc - ex))), min(W - 1, int(math.floor(xc + ex))) + 1):
                dx = j - xc
                u = cs * dx + sn * dy
                v = -sn * dx + cs * dy
                f = math.sqrt(u * u * ia2 + v * v * ib2)
                grad = math.sqrt((u * ia2) ** 2 + (v * ib2) ** 2)
                d = (f - 1.0) * f / grad if grad > 0.0 else dmin
                cov = edge_cover(d)
                if cov > 0.0:
                    img[i, j] += cov * max(c + gx * (j - x0) + gy * (i - y0), 0.0)


@nb.njit(**JIT)
def add_strips(img, strips):
    """Add infinite straight strips: strips[k] = (cos, sin, t0, half_width, c, slope) is the
    set |t - t0| <= half_width with t = x cos + y sin, of intensity c + slope (t - t0)
    (t - t0 clamped to the strip, so a graded profile keeps its end values on the edge
    ramp). Only the pixels within reach of each strip are visited."""
    H, W = img.shape
    for k in range(strips.shape[0]):
        cs, sn, t0, hw, c, slope = strips[k, 0], strips[k, 1], strips[k, 2], strips[k, 3], strips[k, 4], strips[k, 5]
        reach = hw + 0.5
        for i in range(H):
            base = i * sn - t0  # d = j cs + base
            if abs(cs) > 1e-12:
                lo = (-reach - base) / cs
                hi = (reach - base) / cs
                if lo > hi:
                    lo, hi = hi, lo
                j0 = max(0, int(math.ceil(lo)))
                j1 = min(W - 1, int(math.floor(hi)))
            elif abs(base) < reach:
                j0, j1 = 0, W - 1
            else:
                continue
            for j in range(j0, j1 + 1):
                d = j * cs + base
                cov = strip_cover(d, hw)
                if cov > 0.0:
                    img[i, j] += cov * (c + slope * min(max(d, -hw), hw))


@nb.njit(**JIT)
def stroke_mask(mask, segments):
    """Coverage mask of thick line segments with round caps, max-combined (joints and
    crossings are not counted twice): segments[k] = (x0, y0, x1, y1, w0, w1), the width
    varying linearly from w0 to w1 along the segment."""
    H, W = mask.shape
    for k in range(segments.shape[0]):
        x0, y0, x1, y1, w0, w1 = segments[k, 0], segments[k, 1], segments[k, 2], segments[k, 3], segments[k, 4], segments[k, 5]
        ex = x1 - x0
        ey = y1 - y0
        l2 = ex * ex + ey * ey
        r = 0.5 * max(w0, w1) + 0.5
        for i in range(max(0, int(math.ceil(min(y0, y1) - r))), min(H - 1, int(math.floor(max(y0, y1) + r))) + 1):
            for j in range(max(0, int(math.ceil(min(x0, x1) - r))), min(W - 1, int(math.floor(max(x0, x1) + r))) + 1):
                t = ((j - x0) * ex + (i - y0) * ey) / l2 if l2 > 0.0 else 0.0
                t = min(max(t, 0.0), 1.0)
                d = math.sqrt((j - x0 - t * ex) ** 2 + (i - y0 - t * ey) ** 2)
                cov = strip_cover(d, 0.5 * (w0 + t * (w1 - w0)))
                if cov > mask[i, j]:
                    mask[i, j] = cov
