"""The studio's API: download all as a zip, vary, re-render choices that point up, favourites
and the per-image gallery list. Owner-only throughout (another user's ids are 404)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from PIL import Image

from tests.conftest import BOTH_DBS
from tests.web.conftest import wait_job


def generate(client, headers, prompt="two cats", model="fake-draft", **extra):
    job = client.post("/v1/generations", json={"prompt": prompt, "model": model, **extra},
                      headers=headers).json()
    return wait_job(client, headers, job["id"])


def test_download_all_is_a_zip_of_the_jobs_pngs(client, alice, bob):
    job = generate(client, alice, "red star", n=3, seed=7)
    r = client.get(f"/v1/jobs/{job['id']}/images.zip", headers=alice)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="triptych-red-star')
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = archive.namelist()
    assert names == ["red-star-seed7-1.png", "red-star-seed8-2.png", "red-star-seed9-3.png"]
    for name, image in zip(names, job["images"], strict=True):
        data = archive.read(name)
        assert data == client.get(image["url"], headers=alice).content  # record embedded
        assert Image.open(io.BytesIO(data)).format == "PNG"

    assert client.get(f"/v1/jobs/{job['id']}/images.zip", headers=bob).status_code == 404
    client.delete(f"/v1/images/{job['images'][0]['id']}", headers=alice)
    fewer = zipfile.ZipFile(io.BytesIO(
        client.get(f"/v1/jobs/{job['id']}/images.zip", headers=alice).content))
    assert len(fewer.namelist()) == 2  # a deleted image is not in it


def test_zip_of_a_job_without_images_says_so(client, alice):
    job = client.post("/v1/generations", json={"prompt": "x", "model": "fake-draft"},
                      headers=alice).json()
    client.post(f"/v1/jobs/{job['id']}/cancel", headers=alice)
    job = wait_job(client, alice, job["id"])
    if job["images"]:  # it ran before the cancel landed: delete its image instead
        client.delete(f"/v1/images/{job['images'][0]['id']}", headers=alice)
    r = client.get(f"/v1/jobs/{job['id']}/images.zip", headers=alice)
    assert r.status_code == 404 and "no images" in r.json()["error"]["message"]


@BOTH_DBS
def test_vary_holds_and_charges_one_image_with_a_new_seed(client, alice, bob, db):
    job = generate(client, alice, "blue moon", model="fake-general", seed=11, size="96x64")
    before = client.get("/v1/credits", headers=alice).json()["available"]
    r = client.post(f"/v1/jobs/{job['id']}/vary", headers=alice)
    assert r.status_code == 202 and r.json()["quoted_credits"] == 5
    varied = wait_job(client, alice, r.json()["id"])
    assert varied["status"] == "succeeded" and varied["parent_job_id"] == job["id"]
    assert (varied["prompt"], varied["model"], varied["size"], varied["n"]) == \
        ("blue moon", "fake-general", "96x64", 1)
    assert varied["seed"] != job["seed"]
    assert client.get("/v1/credits", headers=alice).json()["available"] == before - 5
    assert client.post(f"/v1/jobs/{job['id']}/vary", headers=bob).status_code == 404


@BOTH_DBS
def test_vary_without_credits_is_402_and_holds_nothing(client, alice, tp, db):
    job = generate(client, alice, "gold coin", model="fake-premium")  # 15 of 50
    generate(client, alice, "gold coin", model="fake-premium")
    generate(client, alice, "gold coin", model="fake-premium")  # 5 left
    r = client.post(f"/v1/jobs/{job['id']}/vary", headers=alice)
    assert r.status_code == 402
    assert client.get("/v1/credits", headers=alice).json()["available"] == 5


def test_rerender_choices_point_up_never_down_first(client, alice, bob):
    draft = generate(client, alice, "a lake at dawn")
    choices = client.get(f"/v1/jobs/{draft['id']}/rerender-choices", headers=alice).json()
    assert choices["current"] == "fake-draft"
    assert [c["direction"] for c in choices["choices"]] == ["up", "up"]
    assert choices["default"] in ("fake-general", "fake-premium")

    general = generate(client, alice, "a lake at dawn", model="fake-general")
    choices = client.get(f"/v1/jobs/{general['id']}/rerender-choices", headers=alice).json()
    assert choices["default"] == "fake-premium"
    assert [(c["model"], c["direction"]) for c in choices["choices"]] == \
        [("fake-premium", "up"), ("fake-draft", "down")]  # the cheaper one last

    premium = generate(client, alice, "a lake at dawn", model="fake-premium")
    top = client.get(f"/v1/jobs/{premium['id']}/rerender-choices", headers=alice).json()
    assert top["default"] is None  # nothing better here
    assert {c["direction"] for c in top["choices"]} == {"down"}
    assert client.get(f"/v1/jobs/{draft['id']}/rerender-choices",
                      headers=bob).status_code == 404


@BOTH_DBS
def test_favourites_are_owner_only_and_idempotent(client, alice, bob, tp, clock, db):
    job = generate(client, alice, "green hill", n=2)
    first, second = (i["id"] for i in job["images"])
    assert client.get(f"/v1/images/{first}", headers=alice).json()["favourite"] is False
    r = client.put(f"/v1/images/{first}/favourite", headers=alice)
    assert r.status_code == 200 and r.json()["favourite"] is True
    assert client.put(f"/v1/images/{first}/favourite", headers=bob).status_code == 404
    assert client.delete(f"/v1/images/{first}/favourite", headers=bob).status_code == 404

    from triptych.db.models import Image as ImageRow

    with tp.ctx.sessions.begin() as s:
        starred_at = s.get(ImageRow, first).favourite_at
    assert starred_at == clock()
    clock.advance(seconds=60)
    client.put(f"/v1/images/{first}/favourite", headers=alice)  # again: keeps the first time
    with tp.ctx.sessions.begin() as s:
        assert s.get(ImageRow, first).favourite_at == starred_at

    kept = client.get("/v1/gallery", params={"favourites": "true"}, headers=alice).json()
    assert [i["id"] for i in kept["items"]] == [first]
    assert client.get(f"/v1/jobs/{job['id']}", headers=alice).json()["images"][0]["favourite"]
    r = client.delete(f"/v1/images/{first}/favourite", headers=alice)
    assert r.status_code == 200 and r.json()["favourite"] is False
    assert client.get("/v1/gallery", params={"favourites": "true"},
                      headers=alice).json()["items"] == []
    assert second  # untouched
    assert client.get("/v1/gallery", params={"favourites": "true"},
                      headers=bob).json()["items"] == []


def test_gallery_lists_one_item_per_image_with_filters_and_paging(client, alice, bob, clock):
    old = generate(client, alice, "old boat", n=2)
    clock.advance(days=10)
    new = generate(client, alice, "new boat", model="fake-general", n=3)
    everything = client.get("/v1/gallery", headers=alice).json()
    assert [(i["job_id"], i["index"]) for i in everything["items"]] == \
        [(new["id"], 0), (new["id"], 1), (new["id"], 2), (old["id"], 0), (old["id"], 1)]
    item = everything["items"][0]
    assert item["prompt"] == "new boat" and item["model"] == "fake-general"
    assert item["url"] == f"/v1/images/{item['id']}/content" and "path" not in item

    page = client.get("/v1/gallery", params={"limit": 2}, headers=alice).json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    last = client.get("/v1/gallery", params={"limit": 2, "offset": 4}, headers=alice).json()
    assert len(last["items"]) == 1 and last["next_offset"] is None

    by_model = client.get("/v1/gallery", params={"model": "fake-draft"}, headers=alice).json()
    assert {i["job_id"] for i in by_model["items"]} == {old["id"]}
    week = (clock() - timedelta(days=7)).isoformat() + "Z"
    recent = client.get("/v1/gallery", params={"since": week}, headers=alice).json()
    assert {i["job_id"] for i in recent["items"]} == {new["id"]}
    words = client.get("/v1/gallery", params={"q": "old"}, headers=alice).json()
    assert len(words["items"]) == 2
    assert client.get("/v1/gallery", headers=bob).json()["items"] == []
