"""Stage 1: random specimens (Lobato et al. 2023, "Specimen generation").

Models: crystals in any of the 230 space groups (``crystal``), amorphous blocks by random
sequential addition (``amorphous``, ``packing``), isolated atoms (``points``), zone-axis or
random orientation (``orientation``), wedges and shapes (``shapes``), vacancies and
displacements (``defects``), the amorphous support layer (``support``), lattice tiling and
structure files (``structure``); ``build.generate_specimen`` composes them in the
simulation box.

May import: ``emsim.config``, ``emsim.errors``. Nothing downstream (imaging, scenes,
distortions, pairs, datasets).
"""

from .build import KINDS, SimulationBox, Specimen, SpecimenConfig, generate_specimen, simulation_box

__all__ = ["KINDS", "SimulationBox", "Specimen", "SpecimenConfig", "generate_specimen", "simulation_box"]
