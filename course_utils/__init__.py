"""course_utils: the course's reference deep-learning library and shared plumbing.

Modules (one concept each): ``functional``, ``layers``, ``losses``, ``init``, ``optim``,
``schedules``, ``train``, ``threads``, ``data``, ``gradcheck``, ``grading``, ``plotting``,
``environment``. Import the module you need, e.g. ``from course_utils.data import load_mnist``.
"""

__version__ = "0.1.0"
