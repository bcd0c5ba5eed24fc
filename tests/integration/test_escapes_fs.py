"""Filesystem escapes. Every verdict is taken on the host: canary bytes and
mtimes, files that must not appear, a token that must appear nowhere the
sandbox could write."""

import os

from conftest import assert_no_token, snapshot, tree


def test_dotdot_traversal(harness, project, home, sibling, token):
    before = snapshot(sibling / "canary.txt")
    r = harness.sh("cat ../home/.ssh/id_rsa ../sibling/canary.txt ../../*/home/.ssh/id_rsa; "
                   "cat ./../../$(basename $(dirname $PWD))/sibling/canary.txt; "
                   "echo pwn > ../sibling/pwn; echo pwn >> ../sibling/canary.txt; "
                   "mkdir ../escape; echo pwn > ../escape/x; "
                   "cp -r .. all-of-parent; true")
    assert_no_token(token, r, paths=[project])
    assert not (sibling / "pwn").exists()
    assert not (project.parent / "escape").exists()
    assert snapshot(sibling / "canary.txt") == before


def test_write_to_sibling_by_absolute_path(harness, sibling):
    before = tree(sibling)
    r = harness.sh(f"echo pwn > {sibling}/pwn; mkdir {sibling}/d; rm -f {sibling}/canary.txt; true")
    assert r.rc == 0, r
    assert tree(sibling) == before
    assert (sibling / "canary.txt").exists()


def test_symlink_planted_on_host_cannot_be_followed(harness, project, home, sibling, token):
    (project / "key-link").symlink_to(home / ".ssh" / "id_rsa")
    (project / "home-link").symlink_to(home)
    (project / "sib-link").symlink_to(sibling)
    (project / "rel-link").symlink_to("../sibling/canary.txt")
    before = tree(sibling)
    r = harness.sh("cat key-link rel-link home-link/.aws/credentials sib-link/canary.txt; "
                   "echo pwn > sib-link/pwn; echo pwn >> rel-link; "
                   "cp -rL sib-link copy-of-sibling; cp -rL home-link copy-of-home; true")
    assert_no_token(token, r, paths=[project])
    assert tree(sibling) == before
    assert (sibling / "canary.txt").read_text() == f"sibling {token}\n"


def test_symlink_made_inside_cannot_be_followed(harness, project, home, sibling, token):
    before = tree(sibling)
    r = harness.sh(f"ln -s {home}/.ssh/id_rsa k; ln -s {sibling} s; ln -s ../sibling/canary.txt c; "
                   "cat k c s/canary.txt; echo pwn > s/pwn; echo pwn >> c; "
                   "python3 -c 'import os; print(open(os.path.realpath(\"c\")).read())'; true")
    assert_no_token(token, r, paths=[project])
    assert tree(sibling) == before


def test_hardlink_to_outside_file_is_refused(harness, project, sibling):
    # The sibling is visible (read-only) so the link has a real target.
    r = harness.sh(f"ln {sibling}/canary.txt hl1; "
                   f"python3 -c 'import os; os.link(\"{sibling}/canary.txt\", \"hl2\")'; "
                   f"ln {sibling}/canary.txt ../hl3; true", "-r", str(sibling))
    assert r.rc == 0, r
    assert not (project / "hl1").exists()
    assert not (project / "hl2").exists()
    assert not (project.parent / "hl3").exists()
    assert (sibling / "canary.txt").stat().st_nlink == 1


def test_rename_out_of_the_project_fails(harness, project, sibling):
    before = tree(sibling)
    r = harness.sh(f"mv README.md {sibling}/moved.md; "
                   f"python3 -c 'import os; os.rename(\"README.md\", \"{sibling}/moved2.md\")'; "
                   "python3 -c 'import os; os.rename(\"README.md\", \"../moved3.md\")'; true",
                   "-r", str(sibling))
    assert r.rc == 0, r
    assert (project / "README.md").read_text() == "hello from the project\n"
    assert tree(sibling) == before
    assert not (project.parent / "moved3.md").exists()


def test_allow_read_is_read_only(harness, sibling, token):
    before = snapshot(sibling / "canary.txt")
    r = harness.sh(f"cat {sibling}/canary.txt && echo pwn > {sibling}/pwn; "
                   f"echo pwn >> {sibling}/canary.txt; rm -f {sibling}/canary.txt; true",
                   "-r", str(sibling))
    assert token in r.out, r  # granted read works
    assert not (sibling / "pwn").exists()
    assert snapshot(sibling / "canary.txt") == before


def test_allow_dir_is_writable(harness, sibling):
    r = harness.sh(f"echo granted > {sibling}/new.txt", "-w", str(sibling))
    assert r.rc == 0, r
    assert (sibling / "new.txt").read_text() == "granted\n"


def test_read_only_flag_protects_the_project(harness, project):
    before = snapshot(project / "README.md")
    r = harness.sh("cat README.md; echo pwn > new.txt; echo pwn >> README.md; rm -f README.md; true",
                   "--read-only")
    assert "hello from the project" in r.out, r
    assert not (project / "new.txt").exists()
    assert snapshot(project / "README.md") == before


def test_proc_root_and_cwd_links_do_not_reach_the_host(harness, project, home, sibling, token):
    before = tree(sibling)
    script = f"""
    for p in /proc/self /proc/thread-self /proc/1 /proc/[0-9]*; do
      cat $p/root{home}/.ssh/id_rsa $p/root{sibling}/canary.txt
      cat $p/cwd/../home/.ssh/id_rsa $p/cwd/../sibling/canary.txt
      cat $p/root/proc/1/root{sibling}/canary.txt
      echo pwn > $p/root{sibling}/pwn; echo pwn > $p/cwd/../sibling/pwn
      for f in $p/fd/*; do cat $f/../sibling/canary.txt $f{sibling}/canary.txt; done
      ls $p/root/ $p/cwd/..
    done
    true
    """
    r = harness.sh(script)
    assert_no_token(token, r, paths=[project])
    assert tree(sibling) == before


def test_leaked_file_descriptor_is_closed(harness, project, home, token):
    """A host fd to the canary, inherited by harness without CLOEXEC, must not
    reach the command (harness closes fds > 2)."""
    key = os.open(home / ".ssh" / "id_rsa", os.O_RDONLY)
    hdir = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    fds = []
    try:
        for src, want in ((key, 5), (hdir, 6)):
            try:
                os.fstat(want)
                target = os.dup(src)  # 5/6 busy in this process: use another number
            except OSError:
                target = os.dup2(src, want)
            os.set_inheritable(target, True)
            fds.append(target)
        code = r"""
import os, sys
for fd in range(3, 256):
    for how in ("read", "proc", "dirfd"):
        try:
            if how == "read":
                os.lseek(fd, 0, 0)
                print(os.read(fd, 4096))
            elif how == "proc":
                print(os.readlink(f"/proc/self/fd/{fd}"))
                print(open(f"/proc/self/fd/{fd}", "rb").read())
            else:
                print(open(os.open(".ssh/id_rsa", os.O_RDONLY, dir_fd=fd), "rb").read())
        except OSError:
            pass
"""
        r = harness.run(["python3", "-c", code], pass_fds=tuple(fds))
    finally:
        for fd in [key, hdir, *fds]:
            os.close(fd)
    assert r.rc == 0, r
    assert_no_token(token, r, paths=[project])


def test_host_directory_given_as_stdin_does_not_open_the_host(harness, project, home, token):
    """fds 0-2 are the caller's and pass on purpose; a directory there must
    still not let the command open files outside its view (Landlock checks
    every open, whatever the starting fd)."""
    code = r"""
import os
for how in ("proc", "dirfd", "parent"):
    try:
        if how == "proc":
            print(open("/proc/self/fd/3/.ssh/id_rsa").read())
        elif how == "dirfd":
            print(os.read(os.open(".ssh/id_rsa", os.O_RDONLY, dir_fd=3), 4096))
        else:
            up = os.open("..", os.O_RDONLY, dir_fd=3)
            print(os.read(os.open("home/.aws/credentials", os.O_RDONLY, dir_fd=up), 4096))
    except OSError as e:
        print(how, e)
"""
    (project / "dirfd.py").write_text(code)
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        r = harness.sh("exec 3<&0 0</dev/null; python3 dirfd.py; "
                       "cat /proc/self/fd/3/.ssh/id_rsa; echo pwn > /proc/self/fd/3/pwn; true",
                       stdin=fd)
    finally:
        os.close(fd)
    assert r.rc == 0, r
    assert_no_token(token, r, paths=[project])
    assert not (home / "pwn").exists()
