"""The instructor workflow behind the ``course`` command (see ``course --help``).

Modules: ``course`` (the course folder and running nbgrader), ``collect`` (LMS downloads
and folders of submissions), ``submissions`` (which file is which notebook), ``autograde``
(parallel grading, merge, zeroing, audit), ``audit`` (keyed success markers), ``execute``
(a kernel death keeps earlier points), ``limits`` (wall clock, memory, process trees) and
``launch`` (resource caps and the grading key for one nbgrader process).
"""
