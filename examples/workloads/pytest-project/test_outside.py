# This test fails on purpose: it writes outside the project, which the policy does not allow.
# Under sentinel guard its output carries the reason, a line on the test's stderr:
#   sentinel: refused file write of /…/outside.txt: Access to … is outside the allowed workspace. … [default:allowed_paths]
# In a sandbox without the guard the kernel refuses it (a read-only file system).


def test_write_outside_the_project():
    with open("../outside.txt", "w") as out:
        out.write("escaped\n")
