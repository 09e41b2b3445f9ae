pcall(job, {name='a', bad=1})
