"""The two JupyterLabs of the course: the student's (``make lab``) and the instructor's
(``make instructor``). ``python -m course_utils.lab student|instructor`` starts one;
:mod:`.workspace` keeps the student's folder, :mod:`.config` and :mod:`.server` make the
labs differ."""
