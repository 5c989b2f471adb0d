"""Analysis of images and stores, simulated or real: scale-free image statistics and
distribution coverage (``stats``).

May import every emsim stage (it reads stores and images); nothing imports it but the CLI
and ``restoration``.
"""
