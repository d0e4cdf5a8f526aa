"""benchmarks.incremental: the deliveries and the truth file a night-2 run sees."""

from datetime import timedelta

from benchmarks.incremental import NIGHT1_DATE, _hold_back, _hold_back_truth


def test_the_truth_file_is_held_back_and_brought_back(tmp_path):
    landing, held = tmp_path / "landing", tmp_path / "held-back"
    (landing / "_truth").mkdir(parents=True)
    (landing / "_truth" / "person_truth.csv").write_text("source,source_record_id,true_person_id\n")
    _hold_back_truth(landing, held, True)
    assert not (landing / "_truth").exists()
    assert (held / "_truth" / "person_truth.csv").exists()
    _hold_back_truth(landing, held, True)  # a second run: held back again
    _hold_back_truth(landing, held, False)
    assert (landing / "_truth" / "person_truth.csv").exists()
    assert not (held / "_truth").exists()


def test_the_night_2_deliveries_of_the_other_sources_are_held_back(tmp_path):
    landing, held = tmp_path / "landing", tmp_path / "held-back"
    night2 = (NIGHT1_DATE + timedelta(days=1)).isoformat()
    for source in ("p2mi_penempatan", "dtsen_individu"):
        (landing / source / night2).mkdir(parents=True)
    assert _hold_back(landing, held, {"p2mi_penempatan"}) == ["dtsen_individu"]
    assert (landing / "p2mi_penempatan" / night2).exists()
    assert (held / "dtsen_individu" / night2).exists() and not (landing / "dtsen_individu" / night2).exists()
    assert _hold_back(landing, held, {"p2mi_penempatan", "dtsen_individu"}) == []
    assert (landing / "dtsen_individu" / night2).exists()
