"""The stagecoach Streamlit app: sign in, upload, your jobs, a job's detail.

Run it with ``stagecoach streamlit [--url URL] [--port P]`` (``STAGECOACH_URL`` names the
server). A thin client of the REST API through ``stagecoach.client``.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from stagecoach.client import DEFAULT_URL, Client
from stagecoach.streamlit.components import (
    attempt,
    files_line,
    job_details,
    job_status,
)

NEW_CASE = "New case..."
NO_CASE = "(no case)"


def server_url() -> str:
    return os.environ.get("STAGECOACH_URL") or DEFAULT_URL


def go(view: str, job_id: str | None = None) -> None:
    st.session_state["view"] = view
    if job_id is not None:
        st.session_state["job_id"] = job_id


def sign_in() -> None:
    st.title("stagecoach")
    st.caption(f"Sign in to {server_url()}")
    username = st.text_input("Username", key="username")
    password = st.text_input("Password", type="password", key="password")
    if st.button("Sign in", key="sign_in", type="primary"):
        client = attempt(lambda: Client.login(server_url(), username, password))
        if client is not None:
            st.session_state["client"] = client
            st.session_state["who"] = username
            go("jobs")
            st.rerun()


def sign_out() -> None:
    client: Client | None = st.session_state.pop("client", None)
    if client is not None:
        attempt(client.logout)
        client.close()
    go("sign_in")


def upload_page(client: Client) -> None:
    st.header("Upload")
    files = st.file_uploader("Files", accept_multiple_files=True, key="files")
    cases = [c["case_name"] for c in (attempt(client.cases) or [])]
    choice = st.selectbox("Case", [NO_CASE, NEW_CASE, *cases], key="case_choice")
    case_name: str | None = None
    if choice == NEW_CASE:
        case_name = st.text_input("New case name", key="new_case").strip() or None
    elif choice != NO_CASE:
        case_name = choice
    if st.button("Upload", key="upload", type="primary", disabled=not files):
        parts: list[Any] = [(f.name, f) for f in files or []]
        doc = attempt(lambda: client.upload(parts, case_name=case_name))
        if doc is not None:
            go("job", doc["job_id"])
            st.rerun()


def jobs_page(client: Client) -> None:
    st.header("Your jobs")
    page = attempt(lambda: client.jobs(limit=100))
    if page is None:
        return
    if not page["jobs"]:
        st.info("No jobs yet: upload a file.")
    for d in page["jobs"]:
        with st.container(border=True):
            left, right = st.columns([5, 1])
            names = ", ".join(a["filename"] for a in d["artifacts"]) or d["job_id"]
            left.markdown(
                f"**{names}** · {d['status']}"
                + (f" · {d['case_name']}" if d.get("case_name") else "")
            )
            text = f"{d['progress']:g}%" + (f" · {d['eta_text']}" if d.get("eta_text") else "")
            left.progress(min(1.0, d["progress"] / 100), text=text)
            line = files_line(d)
            if line:
                left.caption(line)
            right.button("Open", key=f"open-{d['job_id']}", on_click=go, args=("job", d["job_id"]))


def job_page(client: Client) -> None:
    job_id = st.session_state.get("job_id")
    if not job_id:
        st.info("Pick a job from your jobs.")
        return
    st.header(f"Job {job_id[:8]}")
    doc = job_status(client, job_id)
    if doc is not None:
        job_details(client, doc)


def main() -> None:
    st.set_page_config(page_title="stagecoach", page_icon="🚌", layout="wide")
    client: Client | None = st.session_state.get("client")
    if client is None:
        sign_in()
        return
    view = st.session_state.get("view", "jobs")
    with st.sidebar:
        st.write(f"Signed in as **{st.session_state.get('who', '')}**")
        st.button("Your jobs", key="nav_jobs", on_click=go, args=("jobs",))
        st.button("Upload", key="nav_upload", on_click=go, args=("upload",))
        st.button("Sign out", key="sign_out", on_click=sign_out)
    if view == "upload":
        upload_page(client)
    elif view == "job":
        job_page(client)
    else:
        jobs_page(client)


main()
