//! `tandem customers export` and `tandem customers erase`: one customer's data as JSON, and
//! the customer erased with every row about them (the same store calls as the API's
//! `/api/v1/customers/{id}/export` and `DELETE /api/v1/customers/{id}`).

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tandem_domain::{CustomerId, WorkspaceId};
use tandem_store::Store;

use crate::ConfigArgs;

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Print everything held about one customer as JSON (profile, conversations with their
    /// messages, decision records, hand-off packets, wrap-ups and ratings).
    Export(CustomerArgs),
    /// Erase one customer: every conversation on every channel and every row about them, in
    /// one transaction, with a record that it was done. Cannot be undone.
    Erase(EraseArgs),
}

#[derive(Debug, Args)]
pub struct CustomerArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The workspace (its number); the first workspace when not given.
    #[arg(long)]
    workspace: Option<i64>,
    /// The customer's number.
    #[arg(long)]
    customer: i64,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    #[command(flatten)]
    customer: CustomerArgs,
    /// Confirm: without it nothing is erased.
    #[arg(long)]
    yes: bool,
}

pub async fn run(command: CustomersCommand) -> anyhow::Result<()> {
    match command {
        CustomersCommand::Export(args) => {
            let (opened, store, workspace) = open(&args).await?;
            let export = store
                .customer_export(workspace, CustomerId(args.customer))
                .await
                .with_context(|| format!("customer {}", args.customer))?;
            println!("{}", serde_json::to_string_pretty(&export)?);
            opened.close();
            Ok(())
        }
        CustomersCommand::Erase(args) => {
            if !args.yes {
                bail!(
                    "erasing cannot be undone: add --yes to erase customer {}",
                    args.customer.customer
                );
            }
            let (opened, store, workspace) = open(&args.customer).await?;
            let erasure = store
                .erase_customer(workspace, CustomerId(args.customer.customer), None)
                .await
                .with_context(|| format!("customer {}", args.customer.customer))?;
            println!("{}", serde_json::to_string(&erasure)?);
            opened.close();
            Ok(())
        }
    }
}

async fn open(args: &CustomerArgs) -> anyhow::Result<(crate::Opened, Arc<dyn Store>, WorkspaceId)> {
    let config = args.config.load()?;
    let opened = crate::open_store(&config).await?;
    let store: Arc<dyn Store> = opened.shared();
    let workspace = crate::kb::chosen_workspace(&store, args.workspace).await?;
    Ok((opened, store, workspace))
}
