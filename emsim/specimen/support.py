"""Support layer (Lobato et al. 2023, "Specimen generation", step 3).

With probability 0.95 a support film of thickness U[1, 30] nm lies below the specimen
(z < 0, the specimen occupying z >= 0), crystalline or amorphous with probability 0.5 each,
built by the same procedures as the specimen (random crystal or amorphous element,
orientation, wedge, defects) but without shapes; it covers the same extended xy box.
Every sub-config defaults to the specimen's (the paper's) values.
"""

from __future__ import annotations

import dataclasses

from .amorphous import AmorphousConfig
from ..config import Range, check_probability, check_range
from .crystal import CrystalConfig
from .defects import DefectConfig
from .orientation import OrientationConfig
from .shapes import WedgeConfig


@dataclasses.dataclass(frozen=True)
class SupportConfig:
    """p: probability of a support; p_crystalline: crystalline (else amorphous);
    thickness in A."""

    p: float = 0.95
    p_crystalline: float = 0.5
    thickness: Range = (10.0, 300.0)
    crystal: CrystalConfig = dataclasses.field(default_factory=CrystalConfig)
    amorphous: AmorphousConfig = dataclasses.field(default_factory=AmorphousConfig)
    orientation: OrientationConfig = dataclasses.field(default_factory=OrientationConfig)
    wedge: WedgeConfig = dataclasses.field(default_factory=WedgeConfig)
    defects: DefectConfig = dataclasses.field(default_factory=DefectConfig)

    def __post_init__(self):
        check_probability("support.p", self.p)
        check_probability("support.p_crystalline", self.p_crystalline)
        check_range("support.thickness", self.thickness, 0.1, 10_000.0)
