# The git workload, run as `sh -c "$(cat commands.sh)"` in the workspace: a shell runs each git
# command, so under sentinel guard every one of them is decided. init, add, commit (a pre-commit
# hook runs) and a clone of the local repository.
set -eu
export GIT_AUTHOR_NAME="Workload Suite" GIT_AUTHOR_EMAIL="workloads@example.test"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
git init -q -b main project
git -C project config core.hooksPath ../hooks
printf '# A project\n' > project/README.md
git -C project add README.md
git -C project commit -q -m "First commit"
git clone -q project clone
git -C clone log --format=%s
