"""Stage 2: clean images of specimens (Lobato et al. 2023, eq. 16-26).

Models: electron scattering factors, projected potentials and the analytic atom model
(``physics``, eq. 17, 21), the randomised per-species atom models (``atom_models``, eq.
18-22), the exact renderer of eq. 16 (``render`` with its numba ``_kernels``), tone mapping
(``tonemap``, eq. 23-26), clean images of known structures (``known``) and the one Keys
cubic-convolution kernel shared by numpy, numba and torch code (``resample``).

May import: ``emsim.config``, ``emsim.errors``, ``emsim.specimen``.
"""
