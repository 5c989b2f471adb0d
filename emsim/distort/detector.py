"""S(T)EM / SEM detector noise: scintillator + photomultiplier (Lobato et al. 2023, eq. 43-46).

    x <- P(alpha x)                          (eq. 45, electrons hitting the scintillator)
    x <- (x + N(0, sigma_pix)) / alpha       (eq. 46, PMT pulse-height spread)

Eq. 44 gives the spread of the anode pulse of one incident electron; in units of the mean
pulse (m_c eta G) it is

    sigma_e = sqrt((1 - eta + 1 / (delta - 1)) / (m_c eta) + delta_c^2 / m_c^2)

(m_c photons collected per electron with variance delta_c^2 = f m_c, f >= 1 the excess over
Poisson of the scintillator yield; eta the photocathode quantum efficiency; delta the gain
per dynode; the total gain G cancels). A pixel that received n electrons sums n independent
pulses, so its spread is sigma_e sqrt(n); the paper's constant N(0, sigma) is kept as an
electronic baseline sigma_0 (amplifier and ADC), giving sigma_pix^2 = n sigma_e^2 + sigma_0^2,
all in electrons. The excess noise factor of the detector is 1 + sigma_e^2.

Ranges (the paper gives none): STEM (HAADF/ADF scintillator, ~100 photons per electron per
the paper): m_c in [50, 200], eta in [0.1, 0.3] (bialkali photocathodes), delta in [3, 8],
f in [1, 2], so sigma_e ~ 0.14-0.57. SEM (Everhart-Thornley, secondary electrons
post-accelerated to ~10 kV give far fewer photons): m_c in [10, 60], so sigma_e up to ~1.3.
sigma_0 in [0, 0.25] electrons. ``sigma`` pins or ranges sigma_e directly instead.
"""

from __future__ import annotations

import dataclasses
import math

from ..config import Range, check_probability, check_range, coin, uniform
from ._ranges import pin_scalars
from .counting import count
from .effect import Context, Effect, field_rng, new_seed, on_x, run_on_x

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """p: occurrence of detector noise (counting + PMT); photons (m_c), qe (eta),
    dynode_gain (delta), photon_variance (f): physical ranges of eq. 44; sigma: if set, the
    range of sigma_e itself; baseline: sigma_0 in electrons."""

    p: float = 1.0
    photons: Range = (50.0, 200.0)
    qe: Range = (0.1, 0.3)
    dynode_gain: Range = (3.0, 8.0)
    photon_variance: Range = (1.0, 2.0)
    sigma: Range | None = None
    baseline: Range = (0.0, 0.25)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("detector.p", self.p)
        check_range("detector.photons", self.photons, 1e-3, 1e9)
        check_range("detector.qe", self.qe, 1e-6, 1.0)
        check_range("detector.dynode_gain", self.dynode_gain, 1.01, 1e3)
        check_range("detector.photon_variance", self.photon_variance, 0.0, 1e3)
        if self.sigma is not None:
            check_range("detector.sigma", self.sigma, 0.0, 1e3)
        check_range("detector.baseline", self.baseline, 0.0, 1e6)


SEM_DETECTOR = DetectorConfig(photons=(10.0, 60.0))


def pulse_sigma(photons: float, qe: float, dynode_gain: float, photon_variance: float) -> float:
    """Eq. 44 divided by the mean pulse m_c eta G (relative spread per electron)."""
    return math.sqrt((1.0 - qe + 1.0 / (dynode_gain - 1.0)) / (photons * qe) + photon_variance / photons)


def sample(rng, config: DetectorConfig, ctx=None) -> dict | None:
    """The detector's parameters (eq. 44) and the seed of its counts; None if it does not occur."""
    if not coin(rng, config.p):
        return None
    if config.sigma is not None:
        rec = {"sigma_e": uniform(rng, config.sigma)}
    else:
        rec = {
            "photons": uniform(rng, config.photons),
            "qe": uniform(rng, config.qe),
            "dynode_gain": uniform(rng, config.dynode_gain),
            "photon_variance": uniform(rng, config.photon_variance),
        }
        rec["sigma_e"] = pulse_sigma(rec["photons"], rec["qe"], rec["dynode_gain"], rec["photon_variance"])
    rec["fwhm_e"] = FWHM_PER_SIGMA * rec["sigma_e"]  # eq. 43 in units of the mean pulse
    rec["sigma_0"] = uniform(rng, config.baseline)
    rec["seed"] = new_seed(rng)
    return rec


def _apply(x, params, ctx):
    """Eq. 45-46: counts of the scintillator with the PMT's pulse-height spread."""
    return count(field_rng(params), x, ctx.alpha, params["sigma_e"] ** 2, params["sigma_0"] ** 2)


DETECTOR = Effect("detector", sample, on_x(_apply))


def detector(x, rng, config: DetectorConfig, alpha: float):
    """The effect once: (x in intensity units, record)."""
    return run_on_x(DETECTOR, x, rng, config, Context(x.shape, alpha=alpha))
