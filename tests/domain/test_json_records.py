"""Finding the records inside a JSON document whose top level is an object."""

from __future__ import annotations

from stagecoach.domain.json_records import find_records


def test_a_list_is_the_records():
    assert find_records([{"a": 1}]).records == [{"a": 1}] and find_records([]).note is None


def test_the_record_list_under_a_key_is_found_and_told():
    doc = {"3166-1": [{"alpha_2": "AD"}, {"alpha_2": "AE"}, {"alpha_2": "AF"}]}
    found = find_records(doc)
    assert found.path == ("3166-1",) and len(found.records) == 3
    assert found.note == "The top level is an object: the 3 records are the list under “3166-1”."


def test_the_longest_record_list_wins_and_nested_ones_are_found():
    doc = {
        "meta": {"version": 2, "tags": [{"t": 1}]},
        "data": {"items": [{"i": i} for i in range(5)]},
    }
    found = find_records(doc)
    assert found.path == ("data", "items") and len(found.records) == 5
    assert "“data” → “items”" in (found.note or "")
    assert "the other 1 top-level key is not profiled" in (found.note or "")


def test_an_object_of_objects_is_one_row_per_key():
    found = find_records({"ann": {"age": 3}, "bob": {"age": 4}})
    assert found.records == [{"key": "ann", "age": 3}, {"key": "bob", "age": 4}]
    assert "2 objects" in (found.note or "")


def test_an_object_with_nothing_like_records_says_so():
    found = find_records({"name": "x", "size": 3})
    assert found.records == [{"name": "x", "size": 3}]
    assert found.note == (
        "The top level is one object with 2 keys and no list of records inside: "
        "it is profiled as a single row."
    )
