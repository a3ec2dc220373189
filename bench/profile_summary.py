"""Summarize py-spy `--format raw` (collapsed stack) profiles: where a worker's time goes.

    python -m bench.profile_summary bench/results/profile-*.txt [--top 25]

Prints the functions with the most samples on top of the stack (self), the most samples anywhere
in the stack (inclusive), and the share of samples per package (the innermost frame's library).
"""
import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# Longest prefix wins; anything under the project's server/ is reported per module.
_PACKAGES = ["sqlalchemy", "psycopg2", "marshmallow", "flask_smorest", "flask_sqlalchemy",
             "flask_jwt_extended", "flask_cors", "flask", "werkzeug", "jwt", "webargs", "apispec",
             "gunicorn", "json", "decimal", "bcrypt", "jinja2", "logging", "selectors", "socket",
             "threading", "http", "email", "urllib", "datetime", "re", "hashlib", "uuid"]


# Besides the project's own functions, these show how much of a request is spent talking to the
# database, loading attributes lazily, and serializing the response.
_SQL_AND_SERIALIZATION = ("DefaultDialect.do_execute ", "_PGDialect_common_psycopg.do_ping ",
                          "DefaultDialect.do_rollback ", "DefaultDialect.do_commit ",
                          "LazyLoader._emit_lazyload ", "SelectInLoader._load_for_path ",
                          "InstanceState._load_expired ", "Schema.dump ",
                          "verify_jwt_in_request ", "Flask.wsgi_app ")


def _parse(line: str) -> tuple[list[str], int] | None:
    line = line.rstrip("\n")
    if not line or " " not in line:
        return None
    stack, _, count = line.rpartition(" ")
    try:
        return stack.split(";"), int(count)
    except ValueError:
        return None


def _name(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    short = path
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in path:
            short = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                short = short.split("/", 1)[1] if "/" in short else short
            break
    return f"{match['func']} ({short})"


def _package(frame: str) -> str:
    match = _FRAME.match(frame)
    path = match["file"] if match else frame
    if "site-packages/" in path:
        top = path.split("site-packages/", 1)[1].split("/", 1)[0]
    elif "/lib/python3" in path:
        rest = path.split("/lib/python3", 1)[1]
        top = rest.split("/", 2)[1] if rest.count("/") >= 1 else rest
        top = "stdlib:" + top.removesuffix(".py")
    elif "/server/" in path or path.startswith("server/"):
        top = "server/" + path.split("server/", 1)[1]
    elif "/bench/" in path:
        top = "bench/" + path.split("/bench/", 1)[1]
    else:
        top = path or "?"
    return top.removesuffix(".py")


def summarize(paths: list[Path], top: int = 25) -> dict:
    """Self and inclusive sample counts per function, and self samples per package."""
    self_counts, incl_counts, packages, project = Counter(), Counter(), Counter(), Counter()
    idle = 0
    total = 0
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            parsed = _parse(line)
            if parsed is None:
                continue
            frames, count = parsed
            frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
            if not frames:
                continue
            total += count
            leaf = frames[-1]
            if not any("flask/app.py" in f for f in frames):
                idle += count  # outside a request: gunicorn accepting, reading, writing
            self_counts[_name(leaf)] += count
            packages[_package(leaf)] += count
            names = {_name(f) for f in frames}
            for name in names:
                incl_counts[name] += count
            for name in names:
                if "(server/" in name or name.startswith(_SQL_AND_SERIALIZATION):
                    project[name] += count
    share = lambda n: round(100 * n / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "idle_samples": idle,  # not inside Flask's wsgi_app: gunicorn's own work
        "self": [(name, n, share(n)) for name, n in self_counts.most_common(top)],
        "inclusive": [(name, n, share(n)) for name, n in incl_counts.most_common(top)],
        "packages": [(name, n, share(n)) for name, n in packages.most_common(top)],
        "project": [(name, n, share(n)) for name, n in project.most_common(top)],
    }


def render(summary: dict) -> str:
    out = [f"samples: {summary['samples']} (outside Flask's request handling: "
           f"{summary['idle_samples']})"]
    for title, key in (("Top functions by self time (on CPU in that frame)", "self"),
                       ("Top functions by inclusive time (anywhere in the stack)", "inclusive"),
                       ("Self time by package/module", "packages"),
                       ("The project's functions, database calls, lazy loads and serialization, "
                        "inclusive", "project")):
        out.append(f"\n{title}:")
        for name, n, pct in summary[key]:
            out.append(f"  {pct:5.1f}%  {n:6d}  {name}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(render(summarize(args.profiles, args.top)))


if __name__ == "__main__":
    main()
