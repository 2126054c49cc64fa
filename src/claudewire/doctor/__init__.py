"""claudewire doctor: check every layer between you and the Claude API, say what was seen and what to do.

    from claudewire.doctor import Settings, run
    report = run(Settings.from_env())          # reads ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, HTTPS_PROXY ...
    print(report.verdict, [c.id for c in report.checks if c.status == "fail"])

One module per layer (`config`, `proxy`, `dns`, `tcp`, `tls`, `certificate`, `http`, `api`, `inference`,
`http2`), a `runner` that orders and bounds them, and renderers (`render`) apart. Beside them: what each profile's
tool uses (`claude_code`, `model_choice`: the model Claude Code will ask for; `cursor`: what applies to Cursor) and
what a claudewire gateway in front says of itself (`gateway_view`). Cloud targets (Bedrock, Mantle, Vertex AI,
Foundry) have their own probe (`cloud`), judges (`cloud_checks`) and renderers (`cloud_render`). A URL a tool reaches
is checked as that tool reaches it (`urlprobe`, with `scope` judging addresses): Cursor's base URL from the internet
(`reach`), Claude Code's gateway against its sign-in preconditions (`signin`).
"""

from claudewire.doctor.render import render_json, render_markdown, render_terminal, render_text
from claudewire.doctor.result import CHECK_IDS, CheckResult, Report, Status, Verdict
from claudewire.doctor.runner import diagnose, run
from claudewire.doctor.settings import DEFAULT_BASE_URL, DEFAULT_MODEL, Profile, Settings

__all__ = [
    "CHECK_IDS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "CheckResult",
    "Profile",
    "Report",
    "Settings",
    "Status",
    "Verdict",
    "diagnose",
    "render_json",
    "render_markdown",
    "render_terminal",
    "render_text",
    "run",
]
