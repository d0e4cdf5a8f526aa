"""The benchmark's measurement: a child's peak memory and CPU seconds are the kernel's, and a step's
peak is the highest RSS sample inside the step."""

import sys

from benchmarks.nightly import _peak_between, after_publish_steps, cpu_between, measure, up_to_publish


def test_measure_reports_the_childs_peak_memory_and_output():
    child = "b = bytearray(300 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('done')"
    measured = measure([sys.executable, "-c", child], env={})
    assert measured.returncode == 0
    assert measured.stdout.strip() == "done"
    assert 300e6 < measured.peak_rss < 600e6
    assert measured.seconds > 0


def test_measure_reports_the_childs_cpu_seconds_apart_from_its_waiting():
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\ntime.sleep(0.5)"
    measured = measure([sys.executable, "-c", busy], env={})
    assert measured.seconds >= 1.0
    assert 0.5 <= measured.cpu_seconds < measured.seconds - 0.3  # the sleep costs no CPU
    assert measured.samples[-1][2] <= measured.cpu_seconds + 0.05  # the samples count the same CPU


def test_measure_reports_a_failing_child():
    assert measure([sys.executable, "-c", "raise SystemExit(3)"], env={}).returncode == 3


def test_step_peak_is_the_highest_sample_inside_the_step():
    samples = [(0.0, 10, 0.0), (1.0, 50, 0.8), (2.0, 20, 1.6), (3.0, 90, 2.0)]
    assert _peak_between(samples, 0.5, 2.5) == 50
    assert _peak_between(samples, 5.0, 6.0) == 0


def test_step_cpu_is_the_cpu_counted_between_its_start_and_end():
    samples = [(0.0, 10, 0.0), (1.0, 50, 0.8), (2.0, 20, 1.6), (3.0, 90, 2.0)]
    assert cpu_between(samples, 0.5, 2.5) == 1.6  # from the sample at 0.0 to the one at 2.0
    assert cpu_between(samples, 1.0, 3.0) == 2.0 - 0.8
    # steps that follow each other add up to the time they cover: no second is counted twice
    assert cpu_between(samples, 0.5, 1.9) + cpu_between(samples, 1.9, 3.0) == cpu_between(samples, 0.5, 3.0)


def test_ingest_to_publish_leaves_out_only_the_steps_after_publishing():
    result = {"job_seconds": 100.0, "job_cpu_seconds": 180.0, "stages": [
        ("raw__dtsen_individu", 10.0, 0, 15.0), ("published_tables", 6.0, 0, 9.0),
        ("linkage__diagnostics", 4.0, 0, 6.0),
        ("quality__report", 7.0, 0, 11.0), ("housekeeping__landing_retention", 0.5, 0, 0.2)]}
    after = after_publish_steps()
    assert after == ("housekeeping__landing_retention", "linkage__diagnostics", "quality__report")
    assert up_to_publish(result, after) == (100.0 - 11.5, 180.0 - 17.2)
