"""The course's Jupyter server extension: what a student's and an instructor's lab differ in.

Enabled by the lab launcher (``python -m course_utils.lab``, ``make lab`` / ``make
instructor``) in place of nbgrader's ``validate_assignment`` extension. It

- serves ``/assignments/validate`` (the Validate button) by running the validation in a
  child process (:mod:`course_utils.lab.validate`) and awaiting it: nbgrader's own handler
  runs it inside the server's event loop, and the whole JupyterLab (file listings, kernels,
  saving) stops answering for the 30-70 s it takes;
- hides the JupyterLab plug-ins ``CourseLab.disabled_labextensions`` names (the instructor
  panels, in a student's lab) through the page config;
- in the instructor's lab, renders Formgrader's "Manage Assignments" page without the
  exchange warning when the course uses no exchange (it releases and collects with
  ``course``), and without the configuration dump that shows the server's token.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Bool, Enum, List, Unicode
from traitlets.config import LoggingConfigurable

WORKER = "course_utils.lab.validate"


class CourseLab(LoggingConfigurable):
    """Settings of one lab (set by ``course_utils/lab/config.py``)."""

    role = Enum(["student", "instructor"], "student", help="whose lab this is").tag(config=True)
    disabled_labextensions = List(
        Unicode(), help="JupyterLab plug-in ids this lab does not load"
    ).tag(config=True)
    exchange_in_use = Bool(
        False, help="the course has an nbgrader exchange (release/fetch/submit through it)"
    ).tag(config=True)
    course_root = Unicode(help="the folder whose nbgrader_config.py grading uses").tag(config=True)


class ValidateHandler(JupyterHandler):
    """``POST /assignments/validate?path=NB``: nbgrader's reply, without blocking the server."""

    # One validation at a time per server: each one runs a kernel over a whole notebook, and
    # a student's laptop has few cores. A second request waits here, off the event loop.
    _one_at_a_time: asyncio.Semaphore | None = None

    def initialize(self, course_root: str) -> None:
        self.course_root = course_root
        self.proc: asyncio.subprocess.Process | None = None

    def _target(self, path: str) -> str:
        root = os.path.realpath(self.settings["server_root_dir"])
        target = os.path.realpath(os.path.join(root, path))
        if os.path.commonpath([root, target]) != root:
            raise web.HTTPError(403, "Access denied: path outside allowed directory")
        return target

    @web.authenticated
    async def post(self) -> None:
        try:
            path = self.get_argument("path")
        except web.MissingArgumentError:
            path = (self.get_json_body() or {}).get("path")
        if not isinstance(path, str) or not path:
            raise web.HTTPError(400, "path: expected the notebook's path, got none")
        target = self._target(path)
        cls = type(self)
        if cls._one_at_a_time is None:
            cls._one_at_a_time = asyncio.Semaphore(1)
        async with cls._one_at_a_time:
            reply = await self._run(target)
        self.finish(json.dumps(reply))

    async def _run(self, target: str) -> dict:
        env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER,
            target,
            cwd=self.course_root,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its kernel goes with it when the request is dropped
        )
        out, err = await self.proc.communicate()
        code, self.proc = self.proc.returncode, None
        try:
            reply = json.loads(out)
            if isinstance(reply, dict) and "success" in reply:
                return reply
        except ValueError:
            pass
        tail = err.decode(errors="replace")[-4000:]
        self.log.error("validation of %s failed (exit %s):\n%s", target, code, tail)
        return {"success": False, "value": f"The validation stopped (exit status {code}):\n{tail}"}

    def on_connection_close(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _manage_assignments_handler():
    """Formgrader's Manage Assignments page, honest about a course without an exchange."""
    import sys as _sys

    from nbgrader.server_extensions.formgrader.base import check_notebook_dir, check_xsrf
    from nbgrader.server_extensions.formgrader.handlers import ManageAssignmentsHandler
    from nbgrader.utils import to_numeric_tz

    class CourseManageAssignments(ManageAssignmentsHandler):
        @web.authenticated
        @check_xsrf
        @check_notebook_dir
        def get(self) -> None:
            api = self.api
            exchange_in_use = self.settings["course_lab"].exchange_in_use
            html = self.render(
                "manage_assignments.tpl",
                url_prefix=self.url_prefix,
                base_url=self.base_url,
                windows=(_sys.prefix == "win32"),
                course_id=api.course_id,
                exchange=api.exchange_root,
                # the warning is for a course that uses an exchange and cannot reach it
                exchange_missing=api.exchange_missing and exchange_in_use,
                current_config={},  # nbgrader shows the whole config, the server token too
                default_timezone=to_numeric_tz(api.timezone),
            )
            self.write(html)

    return CourseManageAssignments


def _page_config_hook(lab: CourseLab, previous):
    def hook(handler, page_config: dict) -> dict:
        if previous is not None:
            page_config = previous(handler, page_config)
        disabled = list(page_config.get("disabledExtensions", []))
        disabled += [p for p in lab.disabled_labextensions if p not in disabled]
        page_config["disabledExtensions"] = disabled
        return page_config

    return hook


def _jupyter_server_extension_points():
    return [{"module": "course_utils.lab.server"}]


def _load_jupyter_server_extension(serverapp) -> None:
    lab = CourseLab(parent=serverapp)
    course_root = lab.course_root or os.getcwd()
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.settings["course_lab"] = lab
    web_app.settings["page_config_hook"] = _page_config_hook(
        lab, web_app.settings.get("page_config_hook")
    )

    from nbgrader.server_extensions.validate_assignment.handlers import NbGraderVersionHandler

    handlers = [
        (r"/assignments/validate", ValidateHandler, {"course_root": course_root}),
        (r"/nbgrader_version", NbGraderVersionHandler),
    ]
    if lab.role == "instructor":
        # registered before nbgrader's formgrader (extensions load in name order), so it wins
        handlers.append((r"/formgrader/manage_assignments/?", _manage_assignments_handler()))
    web_app.add_handlers(".*$", [(url_path_join(base_url, h[0]), *h[1:]) for h in handlers])
    serverapp.log.info(
        "course lab (%s): validation out of process, course root %s, hidden plug-ins: %s",
        lab.role,
        course_root,
        ", ".join(lab.disabled_labextensions) or "none",
    )
