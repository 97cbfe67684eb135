"""dlcurriculum: an alignment-focused deep learning curriculum as working software.

`import dlcurriculum` stays cheap: heavy libraries (torch, matplotlib) load inside the
modules that need them.
"""

__version__ = "0.1.0"
