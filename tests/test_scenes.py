import json
import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from emsim.config import from_dict
from emsim.errors import ConfigError, EmsimError
from emsim.imaging.physics import AtomModel
from emsim.scenes import KINDS, SceneConfig, choose_objects, draw_scene, generate_scene, render_scene
from emsim.scenes import bands, cracks, grains, particles, raster
from emsim.imaging.tonemap import tone_map

SHAPE = (96, 112)


# --------------------------------------------------------------------------- scenes


@pytest.mark.parametrize("kind", KINDS)
def test_each_type_alone_renders_finite_nonnegative_nonempty(kind):
    for seed in range(4):
        img, record = generate_scene(np.random.default_rng(seed), SceneConfig.only(kind), SHAPE)
        assert img.dtype == np.float32 and img.shape == SHAPE
        assert np.all(np.isfinite(img)) and img.min() >= 0.0
        assert img.max() > 0 and np.count_nonzero(img) > 0.005 * img.size and img.std() > 0
        assert record["objects"] == [kind] and [layer["kind"] for layer in record["layers"]] == [kind]


def test_record_reproduces_the_image_through_json():
    for seed in range(8):
        img, record = generate_scene(np.random.default_rng(seed), SceneConfig(), (128, 128))
        again = render_scene(json.loads(json.dumps(record)))
        assert np.array_equal(img, again)


def test_same_seed_same_scene_and_different_seeds_differ():
    a, ra = generate_scene(np.random.default_rng(7), SceneConfig(), SHAPE)
    b, rb = generate_scene(np.random.default_rng(7), SceneConfig(), SHAPE)
    c, _ = generate_scene(np.random.default_rng(8), SceneConfig(), SHAPE)
    assert np.array_equal(a, b) and json.dumps(ra) == json.dumps(rb)
    assert not np.array_equal(a, c)


def test_subset_is_nonempty_and_each_type_equally_likely(rng):
    counts = dict.fromkeys(KINDS, 0)
    n = 2000
    for _ in range(n):
        chosen = choose_objects(rng, SceneConfig())
        assert chosen and len(set(chosen)) == len(chosen)
        for k in chosen:
            counts[k] += 1
    # each type in with p = 0.5, conditioned on a non-empty subset: 0.5 / (1 - 2^-6)
    expected = 0.5 / (1 - 2.0**-6)
    for k, c in counts.items():
        assert abs(c / n - expected) < 4 * math.sqrt(expected * (1 - expected) / n), k


def test_scenes_tone_map_like_hr_images(rng):
    img, _ = generate_scene(rng, SceneConfig(), SHAPE)
    out, record = tone_map(img, rng)
    assert out.min() >= 0 and out.max() == pytest.approx(1.0) and json.dumps(record)


def test_config_validation_and_strict_dicts():
    with pytest.raises(ConfigError, match="at least one"):
        SceneConfig(**{k: getattr(SceneConfig.only("bands"), k).__class__(p=0.0) for k in KINDS})
    with pytest.raises(ConfigError):
        from_dict(SceneConfig, {"grains": {"count": [10, 5]}})
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(SceneConfig, {"cracks": {"colour": 1}})
    with pytest.raises(ConfigError):
        from_dict(SceneConfig, {"bands": {"grade": [0.5, 1.5]}})  # would make intensities negative
    cfg = from_dict(SceneConfig, {"grains": {"count": 40, "p": 1.0}})
    assert cfg.grains.count == (40, 40) and cfg.soft_particles == SceneConfig().soft_particles


def test_bad_input_is_a_one_line_error():
    with pytest.raises(EmsimError):
        generate_scene(np.random.default_rng(0), SceneConfig(), (4, 64))
    with pytest.raises(EmsimError):
        generate_scene(np.random.default_rng(0), SceneConfig(), "big")
    with pytest.raises(EmsimError, match="unknown scene object"):
        render_scene({"shape": [32, 32], "layers": [{"kind": "clouds"}]})
    with pytest.raises(EmsimError):
        SceneConfig.only("clouds")


def test_sizes_scale_with_the_field():
    """The same draw at 4x the pixels is the same scene, 4x finer (sizes are relative)."""
    small = draw_scene(np.random.default_rng(3), SceneConfig.only("boxes"), (64, 64))["layers"][0]
    large = draw_scene(np.random.default_rng(3), SceneConfig.only("boxes"), (256, 256))["layers"][0]
    np.testing.assert_allclose(np.array(large["length"]) / np.array(small["length"]), 4.0)


# --------------------------------------------------------------------------- anti-aliasing


def _supersampled_polygon(vx, vy, shape, k=16):
    """Exact box-filter coverage of a convex polygon to 1/k^2 by k x k subsamples."""
    H, W = shape
    off = (np.arange(k) + 0.5) / k - 0.5
    ys = (np.arange(H)[:, None] + off[None, :]).ravel()
    xs = (np.arange(W)[:, None] + off[None, :]).ravel()
    X, Y = np.meshgrid(xs, ys)
    inside = np.ones(X.shape, dtype=bool)
    cx, cy = np.mean(vx), np.mean(vy)
    for e in range(len(vx)):
        ax, ay, bx, by = vx[e], vy[e], vx[(e + 1) % len(vx)], vy[(e + 1) % len(vx)]
        side = (bx - ax) * (Y - ay) - (by - ay) * (X - ax)
        ref = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        inside &= side * ref >= 0
    return inside.reshape(H, k, W, k).mean(axis=(1, 3))


def _polygon(vx, vy, shape, c=1.0):
    img = np.zeros(shape, dtype=np.float32)
    raster.fill_polygons(img, np.array([0, len(vx)]), np.asarray(vx, float), np.asarray(vy, float), np.array([[c, 0.0, 0.0, 0.0, 0.0]]))
    return img


def test_half_plane_edge_has_half_coverage_at_the_boundary_pixel():
    img = _polygon([10.0, 60.0, 60.0, 10.0], [-5.0, -5.0, 40.0, 40.0], (32, 64))
    row = img[16]
    assert row[9] == 0.0 and row[10] == pytest.approx(0.5) and row[11] == 1.0 and row[59] == 1.0 and row[60] == pytest.approx(0.5)
    img = _polygon([10.25, 60.0, 60.0, 10.25], [-5.0, -5.0, 40.0, 40.0], (32, 64))
    assert img[16, 10] == pytest.approx(0.25) and img[16, 11] == 1.0
    # a corner of an axis-aligned box: box-filter coverage is the product, here 1/4
    img = _polygon([10.0, 20.0, 20.0, 10.0], [10.0, 10.0, 20.0, 20.0], (32, 32))
    assert img[10, 10] == pytest.approx(0.25) and img[15, 10] == pytest.approx(0.5) and img[15, 15] == 1.0


def test_polygon_area_and_coverage_match_supersampled_reference(rng):
    shape = (80, 80)
    for _ in range(5):
        n = int(rng.integers(3, 7))
        theta = 2 * np.pi * np.arange(n) / n + rng.uniform(-0.3, 0.3, n) + rng.uniform(0, 6)
        r = rng.uniform(15, 30)
        vx, vy = 40 + r * np.cos(theta), 40 + 0.8 * r * np.sin(theta)
        img = _polygon(vx, vy, shape)
        area = 0.5 * abs(np.dot(vx, np.roll(vy, -1)) - np.dot(vy, np.roll(vx, -1)))
        perimeter = np.hypot(np.diff(np.r_[vx, vx[0]]), np.diff(np.r_[vy, vy[0]])).sum()
        assert abs(img.sum() - area) < 0.01 * perimeter
        ref = _supersampled_polygon(vx, vy, shape)
        err = np.abs(img - ref)
        Y, X = np.mgrid[: shape[0], : shape[1]]
        near_vertex = np.min(np.hypot(X[..., None] - vx, Y[..., None] - vy), axis=-1) < 1.5
        assert err[~near_vertex].max() < 0.08  # the linear ramp vs exact coverage of oblique edges
        assert err[near_vertex].max() < 0.25  # product of the edge coverages at corners
        assert err.sum() < 0.04 * perimeter
        assert set(np.unique(img[ref == 1.0])) == {1.0} and np.all(img[ref == 0.0] < 0.08)


def test_ellipse_area_and_edges(rng):
    shape = (90, 90)
    for _ in range(4):
        a, b, ang = rng.uniform(10, 35), rng.uniform(5, 10), rng.uniform(0, np.pi)
        img = np.zeros(shape, dtype=np.float32)
        raster.fill_ellipses(img, np.array([[45.3, 44.6, a, b, ang]]), np.array([[1.0, 0.0, 0.0, 0.0, 0.0]]))
        h = ((a - b) / (a + b)) ** 2
        perimeter = math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))
        assert abs(img.sum() - math.pi * a * b) < 0.015 * perimeter  # first-order distance
        assert img.max() == 1.0 and ((img > 0) & (img < 1)).sum() < 2.5 * perimeter  # a one-pixel edge
    # circle: exact signed distance, coverage 0.5 where the pixel centre is on the edge
    img = np.zeros((40, 40), dtype=np.float32)
    raster.fill_ellipses(img, np.array([[20.0, 20.0, 7.0, 7.0, 0.3]]), np.array([[1.0, 0.0, 0.0, 0.0, 0.0]]))
    assert img[20, 27] == pytest.approx(0.5) and img[20, 26] == 1.0 and img[20, 28] == 0.0


def test_strips_and_thin_lines_conserve_width():
    img = np.zeros((50, 60), dtype=np.float32)
    angle = 0.37
    raster.add_strips(img, np.array([[math.cos(angle), math.sin(angle), 30.0, 0.3, 1.0, 0.0]]))
    # integrated across the band (per unit length along it) equals the width 0.6
    assert img.sum() == pytest.approx(0.6 * _chord_length(img.shape, angle, 30.0), rel=0.02)
    assert img.max() <= 0.6 + 1e-6
    mask = np.zeros((30, 60), dtype=np.float32)
    raster.stroke_mask(mask, np.array([[5.0, 12.0, 55.0, 12.0, 3.0, 3.0]]))
    col = mask[:, 30]
    np.testing.assert_allclose(col[10:15], [0.0, 1.0, 1.0, 1.0, 0.0])
    assert col.sum() == pytest.approx(3.0)
    raster.stroke_mask(mask, np.array([[5.0, 20.3, 55.0, 20.3, 0.5, 0.5]]))
    assert mask[:, 30][18:23].sum() == pytest.approx(0.5)


def _chord_length(shape, angle, t0):
    """Length of the line x cos + y sin = t0 inside the pixel-centre rectangle, by sampling."""
    H, W = shape
    s = np.linspace(-200, 200, 400001)
    x = t0 * math.cos(angle) - s * math.sin(angle)
    y = t0 * math.sin(angle) + s * math.cos(angle)
    inside = (x >= -0.5) & (x <= W - 0.5) & (y >= -0.5) & (y <= H - 0.5)
    return inside.sum() * (s[1] - s[0])


# --------------------------------------------------------------------------- object models


def _soft_layer(rng, n=6):
    return {
        "weight": 0.7,
        "x": rng.uniform(0, 60, n), "y": rng.uniform(0, 50, n), "r_m": rng.uniform(1.0, 6.0, n),
        "aspect": rng.uniform(0.8, 1.2, n), "angle": rng.uniform(0, np.pi, n),
        "h1": rng.uniform(0.5, 1, n), "h2": rng.uniform(0.5, 1, n), "h3": rng.uniform(0.5, 1, n), "n": rng.uniform(4, 16, n),
    }  # fmt: skip


def test_soft_particles_are_eq17_ellipses(rng):
    """Against AtomModel.profile_xy in float64: exact (1e-5 of the peak) inside the taper,
    and within 1e-3 of the peak of the untruncated profile everywhere."""
    layer = _soft_layer(rng)
    shape = (50, 60)
    img = np.zeros(shape, dtype=np.float32)
    particles.render_soft(img, layer)
    X, Y = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]))
    full = np.zeros(shape)
    tapered = np.zeros(shape)
    for k in range(len(layer["x"])):
        m = AtomModel(layer["h1"][k], layer["h2"][k], layer["h3"][k], layer["n"][k], layer["r_m"][k], aspect=layer["aspect"][k], angle=layer["angle"][k])
        f = layer["weight"] * m.profile_xy(X - layer["x"][k], Y - layer["y"][k])
        c, s = math.cos(m.angle), math.sin(m.angle)
        u, v = c * (X - layer["x"][k]) + s * (Y - layer["y"][k]), -s * (X - layer["x"][k]) + c * (Y - layer["y"][k])
        full += f
        tapered += f * particles.taper(np.hypot(u / m.r_m, v / (m.aspect * m.r_m)))
    peak = full.max()
    assert np.abs(img - tapered).max() < 1e-5 * peak
    assert np.abs(img - full).max() < 1e-3 * peak


def test_sharp_particles_mask_positive_planes():
    rng = np.random.default_rng(5)
    layer = particles.draw_sharp(rng, particles.SharpParticlesConfig(count=(1, 1), p_polygon=0.0, tilt=(0.5, 0.5), radius=(0.2, 0.2)), (100, 100))
    e = layer["ellipses"]
    assert len(e["x"]) == 1
    img = np.zeros((100, 100), dtype=np.float32)
    particles.render_sharp(img, layer)
    c, w = e["c"][0], layer["weight"]
    full = np.zeros_like(img)
    raster.fill_ellipses(full, np.array([[e["x"][0], e["y"][0], e["a"][0], e["b"][0], e["angle"][0]]]), np.array([[1.0, 0, 0, 0, 0]]))
    interior = full == 1.0
    vals = img[interior] / w
    # the plane spans c (1 -+ t) over a disc of the particle's radius: not flat, positive
    assert vals.min() >= c * 0.5 - 1e-5 and vals.max() <= c * 1.5 + 1e-5
    assert vals.max() - vals.min() > 0.3 * c


def test_grains_tile_the_field_and_labels_are_nearest_seeds(rng):
    shape = (70, 90)
    for n in (1, 2, 30, 175):
        xy = rng.uniform(-5, 95, (n, 2))
        label = grains.labels(shape, xy[:, 0], xy[:, 1])
        Y, X = np.mgrid[: shape[0], : shape[1]]
        d, ref = cKDTree(xy).query(np.c_[X.ravel(), Y.ravel()], k=min(n, 2))
        ref = ref if n == 1 else ref[:, 0]
        ties = np.zeros(X.size, bool) if n == 1 else np.isclose(d[:, 0], d[:, 1])
        assert np.array_equal(label.ravel()[~ties], ref[~ties])
        # constant unit grains, with their anti-aliased blends, sum to exactly one
        layer = {"weight": 1.0, "x": xy[:, 0], "y": xy[:, 1], "c": np.ones(n), "gx": np.zeros(n), "gy": np.zeros(n), "boundary": None}
        img = np.zeros(shape, dtype=np.float32)
        grains.render(img, layer)
        np.testing.assert_allclose(img, 1.0, atol=1e-6)


def test_grain_edges_are_antialiased_and_boundaries_drawn():
    # two grains split by the vertical bisector x = 20.5 + 0.25
    layer = {"weight": 1.0, "x": [10.75, 30.75], "y": [15.0, 15.0], "c": [1.0, 0.2], "gx": [0.0, 0.0], "gy": [0.0, 0.0], "boundary": None}
    img = np.zeros((30, 40), dtype=np.float32)
    grains.render(img, layer)
    # pixel 20 is 0.75 px left of the boundary -> fully grain 0; pixel 21 straddles it
    np.testing.assert_allclose(img[5, 19:23], [1.0, 1.0, 0.75 * 0.2 + 0.25 * 1.0 + 0.0 * 0, 0.2], atol=1e-6)
    layer["boundary"] = {"intensity": 0.0, "width": 2.0}
    img = np.zeros((30, 40), dtype=np.float32)
    grains.render(img, layer)
    # a dark line of width 2 centred at x = 20.75 covers pixels 20..22 by 0.75, 1, 0.25
    np.testing.assert_allclose(img[5, 18:24], [1.0, 1.0, 0.25, 0.0, 0.75 * 0.2, 0.2], atol=1e-6)


def test_grain_boundary_intensity_follows_the_mean_grain_intensity(rng):
    cfg = grains.GrainsConfig(p_boundary=1.0, boundary_intensity=(1.5, 1.5))
    layer = grains.draw(rng, cfg, (64, 64))
    assert layer["boundary"]["intensity"] == pytest.approx(1.5 * np.mean(layer["c"]))
    assert layer["boundary"]["width"] >= grains.MIN_BOUNDARY_WIDTH


def test_bands_profiles_and_periodic_stacks(rng):
    cfg = bands.BandsConfig(count=(5, 5), p_periodic=1.0, p_cross=0.0, p_graded=1.0, grade=(0.8, 0.8))
    layer = bands.draw(rng, cfg, (128, 128))
    (f,) = layer["families"]
    gaps = np.diff(f["offset"])
    assert np.all(np.abs(gaps / f["period"] - 1) <= 2 * bands.BAND_JITTER + 1e-9)
    # a graded band rises (or falls) linearly across its width from c (1 - g) to c (1 + g)
    one = {"weight": 1.0, "families": [{**f, "angle": 0.0, "offset": [40.0], "width": [20.0], "intensity": [1.0], "grade": [0.8]}]}
    img = np.zeros((16, 80), dtype=np.float32)
    bands.render(img, one)
    row = img[8, 31:50]  # interior pixels 31..49 (edges at 30 and 50 are half covered)
    assert np.all(np.diff(row) > 0)
    np.testing.assert_allclose(row, 1.0 + 0.8 * (np.arange(31, 50) - 40) / 10, atol=1e-6)
    assert img[8, 30] == pytest.approx(0.5 * 0.2) and img[8, 50] == pytest.approx(0.5 * 1.8)


def test_crossing_bands_superpose(rng):
    cfg = bands.BandsConfig(p_cross=1.0, cross_angle=(90.0, 90.0))
    layer = bands.draw(rng, cfg, (64, 64))
    a, b = layer["families"]
    assert abs(abs(b["angle"] - a["angle"]) - math.pi / 2) < 1e-12
    both, one, other = (np.zeros((64, 64), dtype=np.float32) for _ in range(3))
    bands.render(both, layer)
    bands.render(one, {**layer, "families": [a]})
    bands.render(other, {**layer, "families": [b]})
    np.testing.assert_allclose(both, one + other, rtol=1e-6, atol=1e-7)
    assert one.max() > 0 and other.max() > 0


def test_cracks_dark_cut_and_bright_add(rng):
    shape = (64, 64)
    layer = cracks.draw(rng, cracks.CracksConfig(p_dark=1.0, depth=(1.0, 1.0), width=(0.05, 0.05)), shape)
    m = cracks.mask(layer, shape)
    assert m.max() == 1.0 and 0 < (m > 0).mean() < 0.9
    base = np.full(shape, 2.0, dtype=np.float32)
    img = base.copy()
    cracks.render(img, layer)
    film = layer["weight"] * layer["film"]
    np.testing.assert_allclose(img, (2.0 + film) * (1.0 - m), rtol=1e-6)
    assert np.all(img[m == 1.0] == 0.0)
    bright = {**layer, "dark": False, "intensity": 0.5}
    img = base.copy()
    cracks.render(img, bright)
    np.testing.assert_allclose(img, 2.0 + bright["weight"] * 0.5 * m, rtol=1e-6)


def test_cracks_branch_taper_and_stay_in_the_field(rng):
    cfg = cracks.CracksConfig(count=(3, 3), p_branch=(0.1, 0.1), max_depth=2)
    layer = cracks.draw(rng, cfg, (128, 128))
    lines = [line for net in layer["networks"] for line in net["lines"]]
    assert len(lines) > 2 * len(layer["networks"])  # branches beyond the two arms
    for line in lines:
        x, y, w = (np.array(line[k]) for k in ("x", "y", "w"))
        assert x.size >= 2 and np.all(w > 0)
        inner = (x[:-1] >= -10) & (x[:-1] <= 140) & (y[:-1] >= -10) & (y[:-1] <= 140)
        assert np.all(inner)  # only the last vertex may leave the (grown) field


def test_grain_blend_matches_supersampled_voronoi(rng):
    shape = (60, 60)
    n = 40
    xy = rng.uniform(-5, 65, (n, 2))
    c = rng.uniform(0.2, 1.0, n)
    img = np.zeros(shape, dtype=np.float32)
    grains.render(img, {"weight": 1.0, "x": xy[:, 0], "y": xy[:, 1], "c": c, "gx": np.zeros(n), "gy": np.zeros(n), "boundary": None})
    k = 8
    off = (np.arange(k) + 0.5) / k - 0.5
    sub = (np.arange(60)[:, None] + off).ravel()
    X, Y = np.meshgrid(sub, sub)
    nearest = cKDTree(xy).query(np.c_[X.ravel(), Y.ravel()])[1]
    ref = c[nearest].reshape(60, k, 60, k).mean(axis=(1, 3))
    err = np.abs(img - ref)
    assert err.mean() < 0.005 and np.percentile(err, 99) < 0.06 and err.max() < 0.3


@pytest.mark.parametrize("shape", [(8, 8), (131, 11), (11, 200)])
def test_tiny_and_elongated_fields_stay_valid(shape):
    for kind in KINDS:
        for seed in range(3):
            img, record = generate_scene(np.random.default_rng(seed), SceneConfig.only(kind), shape)
            assert img.shape == shape and np.all(np.isfinite(img)) and img.min() >= 0.0, (kind, seed)
            assert np.array_equal(render_scene(json.loads(json.dumps(record))), img)


def test_positions_are_individual_points_with_their_minimum_distance():
    from scipy.spatial.distance import pdist

    for kind in ("soft_particles", "sharp_particles", "grains", "boxes"):
        for seed in range(3):
            layer = draw_scene(np.random.default_rng(seed), SceneConfig.only(kind), (128, 128))["layers"][0]
            if kind == "sharp_particles":
                xy = np.r_[np.c_[layer["polygons"]["x"], layer["polygons"]["y"]], np.c_[layer["ellipses"]["x"], layer["ellipses"]["y"]]]
            else:
                xy = np.c_[layer["x"], layer["y"]]
            assert len(xy) == layer["points"]["placed"] > 0
            if len(xy) > 1:
                assert pdist(xy).min() >= layer["points"]["min_distance"] - 1e-9
