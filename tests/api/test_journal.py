"""The journal: the run history a user reopens and re-runs from."""

import json

from dusttui.api.journal import Journal

RUN_A = "a" * 64
RUN_B = "b" * 63 + "c"


def test_launch_then_final_then_reopen_after_restart(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        journal.record_launch(
            run_id=RUN_A,
            workspace_id="local",
            app_id="qa-demo",
            app_name="qa-demo",
            specification_hash="f" * 64,
            mode="stream",
            config={"MODEL": {"provider_id": "offline", "model_id": "echo"}},
            inputs=[{"question": "[/x] 2+2?"}],
        )
        journal.record_final(RUN_A, {"run_id": RUN_A, "status": {"run": "succeeded", "blocks": []}})
    with Journal(path) as journal:  # a new process sees the same history
        (entry,) = journal.list_entries()
        assert entry.run_id == RUN_A
        assert entry.status == "succeeded"
        assert entry.inputs == [{"question": "[/x] 2+2?"}]
        assert entry.config == {"MODEL": {"provider_id": "offline", "model_id": "echo"}}
        assert entry.can_rerun is True
        assert json.loads(journal.final_run_text(RUN_A))["status"]["run"] == "succeeded"
        (summary,) = journal.list_summaries()
        assert (summary.run_id, summary.status, summary.app_name) == (RUN_A, "succeeded", "qa-demo")


def test_newest_first_short_ids_and_opened_runs(tmp_path):
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.record_launch(run_id=RUN_A, workspace_id="w", app_id="app1", inputs=[{}], config={})
        journal.record_opened(run_id=RUN_B, workspace_id="w", app_id="app2")
        assert [e.run_id for e in journal.list_entries()] == [RUN_B, RUN_A]
        assert [e.run_id for e in journal.list_entries(app_id="app1")] == [RUN_A]
        assert journal.get("bbbb").run_id == RUN_B
        assert journal.get("bbbb").origin == "opened"
        assert journal.get("bbbb").can_rerun is False
        assert journal.get("zzzz") is None


def test_the_journal_is_private_to_its_user(tmp_path):
    # It holds every run's inputs and outputs: nobody else on the machine may read it.
    path = tmp_path / "data" / "journal.sqlite"
    with Journal(path) as journal:
        journal.record_launch(run_id=RUN_A, workspace_id="w", app_id="a", inputs=[{}], config={})
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in path.parent.iterdir()}
    assert modes["journal.sqlite"] == "0o600"
    assert all(mode == "0o600" for mode in modes.values()), modes
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


def test_a_journal_an_older_version_left_readable_is_made_private(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path):
        pass
    path.chmod(0o644)
    with Journal(path):
        assert oct(path.stat().st_mode & 0o777) == "0o600"
