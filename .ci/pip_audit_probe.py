"""Exit 0 when pip-audit's vulnerability service answers from here, else say what fails (exit 1).

`make audit` runs it first: pip-audit itself would report every dependency as "not found"
(PyPI) or crash on the connection (OSV), which says nothing about the dependencies. The probe
asks the service, through pip-audit's own client, about a release that certainly exists: the
pip-audit that is running it.
"""
import sys
from importlib.metadata import version

from packaging.version import Version
from pip_audit._service import OsvService, PyPIService
from pip_audit._service.interface import ResolvedDependency, ServiceError, SkippedDependency

SERVICES = {"pypi": PyPIService, "osv": OsvService}


def main(name: str) -> int:
    service = SERVICES[name](timeout=15)
    probe = ResolvedDependency(name="pip-audit", version=Version(version("pip-audit")))
    try:
        answered, _ = service.query(probe)
    except (ServiceError, OSError) as exc:
        print(f"pip-audit: the {name} vulnerability service is unreachable from here: "
              f"{exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    if isinstance(answered, SkippedDependency):
        print(f"pip-audit: the {name} vulnerability service does not know a release that exists "
              f"({answered.skip_reason})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "pypi"))
