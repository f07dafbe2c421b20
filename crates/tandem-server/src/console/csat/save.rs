//! `POST /settings/csat/{id}`: saves an inbox's satisfaction questions (admins and
//! supervisors), checked as the API checks them; nothing is saved when a value is refused, and
//! the form comes back as typed with the message next to it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use tandem_domain::InboxId;

use super::form::CsatForm;
use super::page::csat_page;
use crate::AppState;
use crate::api::csat::save_for;
use crate::console::{CsrfForm, PageError, PageResult, require_manager};
use crate::error::ApiError;

pub(super) async fn save_csat(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<CsatForm>,
) -> PageResult {
    require_manager(&agent)?;
    let form = form.compacted();
    let refused = match form.to_csat() {
        Err(error) => error,
        Ok(csat) => match save_for(&state, &agent, InboxId(id), csat).await {
            Ok(_) => {
                let to = format!("/settings/csat?notice=saved#inbox-{id}");
                return Ok(Redirect::to(&to).into_response());
            }
            Err(ApiError::Invalid(error)) => error,
            Err(error) => return Err(PageError::for_agent(&agent)(error)),
        },
    };
    let page = csat_page(&state, &agent, Some((id, form, refused)), None).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
