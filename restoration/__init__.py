"""Restoration and super-resolution networks (torch). Needs the ``torch`` extra."""
