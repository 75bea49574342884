"""A Streamlit front end for stagecoach (``pip install 'stagecoach[streamlit]'``).

``stagecoach streamlit`` runs the whole app (``app.py``). Teams with their own Streamlit app
drop in one component:

    import streamlit as st
    from stagecoach.client import Client
    from stagecoach.streamlit import job_status

    client = Client("http://127.0.0.1:8000", st.secrets["stagecoach_token"])
    job_status(client, job_id)   # polls until the job ends

Everything goes through ``stagecoach.client`` over HTTP: no rule of the tracker is copied
here.
"""

from __future__ import annotations

from stagecoach.streamlit.components import job_status, show_problem

__all__ = ["job_status", "show_problem"]
