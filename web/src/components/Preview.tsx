import { useEffect, useState } from 'react'
import { Icon, Spinner } from './Icon'
import { Empty } from './States'

interface Props {
  slug: string
  /** The agents reported the dev server as ready (or the app says so). */
  ready: boolean
  /** Bumped on every PREVIEW_READY: reload the frame. */
  reloadSignal: number
  failed?: boolean
}

/**
 * The app's dev server at /dev/<slug>/ in a frame. Note: the preview is served from the MGX
 * origin, so the frame is same-origin by design (the app's own sign-in cookie must work).
 */
export function Preview({ slug, ready, reloadSignal, failed }: Props) {
  const base = `/dev/${encodeURIComponent(slug)}/`
  const [path, setPath] = useState(base)
  const [key, setKey] = useState(0)
  const [loaded, setLoaded] = useState(false)
  const [force, setForce] = useState(false)

  useEffect(() => {
    if (reloadSignal > 0) {
      setKey((k) => k + 1)
      setLoaded(false)
    }
  }, [reloadSignal])

  const reload = () => {
    setKey((k) => k + 1)
    setLoaded(false)
  }
  const show = ready || force

  return (
    <div className="preview">
      <div className="preview-bar">
        <div className="traffic" aria-hidden="true">
          <span />
          <span />
          <span />
        </div>
        <button type="button" className="icon-btn" onClick={reload} aria-label="Reload preview" title="Reload preview" disabled={!show} data-testid="preview-reload">
          <Icon name="refresh" size={14} />
        </button>
        <div className="url-field" title={path}>
          <Icon name="globe" size={12} />
          <span className="url-host">{window.location.host}</span>
          <span className="url-path">{path}</span>
        </div>
        <a className="icon-btn" href={path} target="_blank" rel="noopener" aria-label="Open preview in a new tab" title="Open in a new tab" data-testid="preview-open">
          <Icon name="external" size={14} />
        </a>
      </div>
      <div className="preview-stage">
        {show ? (
          <>
            {!loaded && (
              <div className="preview-loading">
                <Spinner size={18} /> Loading the preview…
              </div>
            )}
            <iframe
              key={key}
              title={`Preview of ${slug}`}
              src={base}
              data-testid="preview-frame"
              className={loaded ? 'loaded' : ''}
              onLoad={(e) => {
                setLoaded(true)
                try {
                  const p = (e.target as HTMLIFrameElement).contentWindow?.location.pathname
                  if (p) setPath(p)
                } catch {
                  /* cross-origin: keep the base path */
                }
              }}
            />
          </>
        ) : failed ? (
          <Empty icon="alert" title="No preview" action={<button type="button" className="btn" onClick={() => setForce(true)}>Try loading it</button>}>
            The run ended before the dev server started. Ask the team to fix it in the chat.
          </Empty>
        ) : (
          <div className="preview-wait" data-testid="preview-wait">
            <div className="skeleton-page" aria-hidden="true">
              <div className="sk sk-nav" />
              <div className="sk sk-hero" />
              <div className="sk-row">
                <div className="sk sk-card" />
                <div className="sk sk-card" />
                <div className="sk sk-card" />
              </div>
            </div>
            <div className="preview-wait-text">
              <Spinner size={14} /> The preview appears when the team starts the dev server.
              <button type="button" className="link-btn" onClick={() => setForce(true)}>
                Load it now
              </button>
            </div>
          </div>
        )}
      </div>
    </div>
  )
}
