job{name='a'}
job{name='b'}
