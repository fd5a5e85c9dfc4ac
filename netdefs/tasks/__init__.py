"""Tasks: how an engine's input is prepared and its outputs read, per task (netdefs/tasks/base.py says what a task
provides). Adding a task is one module in this folder and one entry in TASKS."""
from ..errors import UserError
from . import classify, detect, obb, pose, segment

TASKS = {task.name: task for task in (detect.TASK, classify.TASK, segment.TASK, pose.TASK, obb.TASK)}


def get(name):
    """The Task called `name`; UserError naming the known ones otherwise."""
    if isinstance(name, str) and name in TASKS:
        return TASKS[name]
    shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:60] + "..."
    raise UserError(f"unknown task {shown} (known: {', '.join(TASKS)})")


__all__ = ["TASKS", "get"]
