# The pip workload, run as `sh -c "$(cat install.sh)"` in the workspace, where prepare.py put the
# wheel in dist/: a venv in the workspace, the wheel installed from its file with no index, then
# the package imported. Under sentinel guard every command here is decided.
set -eu
python3 -m venv .venv
.venv/bin/python -m pip install --no-index --no-cache-dir --disable-pip-version-check dist/sentinel_workload_demo-1.0-py3-none-any.whl
.venv/bin/python -c 'import sentinel_workload_demo as demo; print(demo.greet())'
